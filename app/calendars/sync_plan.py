"""Planning a calendar sync: what each connected member's calendar should hold.

One short transaction reads the interview, its member participants, their connections and
the events recorded so far, creates the rows of events still to be written, and returns
the steps (create, update, delete) that `app.calendars.sync` then carries out.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.calendars import providers
from app.calendars.base import EventSpec, event_key, interview_uid
from app.calendars.conference import CONFERENCE_PROVIDERS as CONFERENCE_PROVIDERS
from app.calendars.conference import settle_conference
from app.calendars.fallback import REVOKED, mail_cancellation, mail_instead, mail_unwritten
from app.db import begin_write
from app.models import (
    CalendarConnection,
    CalendarEvent,
    CalendarEventState,
    ConnectionState,
    Interview,
    InterviewStatus,
    OutboxMessage,
    Participant,
    ParticipantKind,
    Project,
    Proposal,
    SyncState,
    User,
)
from app.notifications.kinds import InviteMethod
from app.outbox.topics import MAIL_TOPIC
from app.participants.channel import calendars_by_member
from app.scheduling.windows import TimeRange

REFERENCE_LABEL = "Roundtable reference:"
REFERENCE = re.compile(re.escape(REFERENCE_LABEL) + r"\s*interview-([0-9a-f-]{36})@roundtable")


def reference_of(text: str) -> uuid.UUID | None:
    """The interview an event's title or description names as its origin, if any."""
    found = REFERENCE.search(text)
    return uuid.UUID(found.group(1)) if found else None


class Action(StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


@dataclass(frozen=True)
class Content:
    """The interview as every copy shows it."""

    title: str
    lines: tuple[str, ...]
    start: datetime
    end: datetime
    time_zone: str
    sequence: int
    uid: str


@dataclass
class Step:
    event_id: uuid.UUID  # our calendar_events row
    participant_id: uuid.UUID
    action: Action
    connection: CalendarConnection  # detached snapshot: read-only here
    provider_event_id: str | None
    key: str
    create_conference: bool = False
    # A delete with no provider id: the copies of the interview found in this range by
    # their reference line are deleted (see `decide_removal`).
    search: TimeRange | None = None


@dataclass
class Plan:
    interview_id: uuid.UUID
    content: Content | None
    conference_url: str | None
    steps: list[Step] = field(default_factory=list)


async def make_plan(
    sessions: async_sessionmaker[AsyncSession], interview_id: uuid.UUID, now: datetime
) -> Plan | None:
    async with sessions() as session:
        await begin_write(session)  # it may add event rows: see `sync._record`
        interview = await session.get(Interview, interview_id)
        if interview is None:
            return None
        members = list(
            await session.scalars(
                select(Participant).where(
                    Participant.interview_id == interview.id,
                    Participant.kind == ParticipantKind.MEMBER,
                    Participant.user_id.is_not(None),
                )
            )
        )
        user_ids = [p.user_id for p in members if p.user_id is not None]
        owned = list(
            await session.scalars(
                select(CalendarConnection).where(CalendarConnection.user_id.in_(user_ids))
            )
        )
        connections = calendars_by_member(owned)
        broken = {c.user_id: c for c in owned if c.state is ConnectionState.BROKEN}
        recorded = {
            e.participant_id: e
            for e in await session.scalars(
                select(CalendarEvent).where(CalendarEvent.interview_id == interview.id)
            )
        }
        old_connections = {
            c.id: c
            for c in await session.scalars(
                select(CalendarConnection).where(
                    CalendarConnection.id.in_(
                        [e.connection_id for e in recorded.values() if e.connection_id]
                    )
                )
            )
        }
        live = interview.status is InterviewStatus.BOOKED and interview.booked_start is not None
        plan = Plan(
            interview_id=interview.id,
            content=await content_of(session, interview) if live else None,
            conference_url=interview.conference_url,
        )
        for participant in members:
            assert participant.user_id is not None
            event = recorded.get(participant.id)
            key = event_key(interview.id, participant.id)
            if live:
                connection = connections.get(participant.user_id)
                lost = broken.get(participant.user_id)
                if connection is None and lost is not None:
                    await _mail_instead(session, interview, participant, event, lost, now)
                    continue
                decision = decide_live(event, connection, interview.ical_sequence)
                if decision is None:
                    continue
                assert connection is not None and decision.action is not None
                if decision.record:
                    event = _record_row(session, event, interview, participant, connection, now)
                assert event is not None
                plan.steps.append(
                    Step(
                        event_id=event.id,
                        participant_id=participant.id,
                        action=decision.action,
                        connection=connection,
                        provider_event_id=event.provider_event_id,
                        key=key,
                        create_conference=creates_conference(participant.user_id, interview),
                    )
                )
            elif event is not None:
                old = old_connections.get(event.connection_id) if event.connection_id else None
                removal = decide_removal(event, old, key)
                if removal is None:
                    continue
                if (
                    removal.action is None
                    and old is not None
                    and old.state is ConnectionState.BROKEN
                    and (event.provider_event_id is not None or event.last_error == REVOKED)
                    and not await _invite_mailed(
                        session, interview, participant, InviteMethod.CANCEL
                    )
                ):
                    # In that calendar (or mailed instead), and cancelled while the calendar
                    # still looked connected: the cancellation was not mailed, so it goes now.
                    await mail_cancellation(session, event.id, now=now)
                    continue
                if removal.action is None:
                    # Nothing written, or no way to reach it any more.
                    event.state = CalendarEventState.DELETED
                    event.last_error = removal.error
                    continue
                assert old is not None
                step = Step(event.id, participant.id, Action.DELETE, old, removal.target, key)
                if removal.target is None and interview.booked_start and interview.booked_end:
                    step.search = TimeRange(interview.booked_start, interview.booked_end)
                plan.steps.append(step)
        # The conference first: the other copies then carry its link.
        plan.steps.sort(key=conference_first)
        if not any(step.create_conference for step in plan.steps):
            # No calendar will make the meeting (requester disconnected, interview
            # cancelled): the fallback link is final, and waiting mails go out with it.
            await settle_conference(session, interview)
        await session.commit()
        return plan


async def _mail_instead(
    session: AsyncSession,
    interview: Interview,
    participant: Participant,
    event: CalendarEvent | None,
    lost: CalendarConnection,
    now: datetime,
) -> None:
    """The member's calendar broke and no other is connected. A copy written or planned
    there goes by mail (if the connection's own fallback did not reach it: it was recorded
    after); so does a booking made while the calendar still looked connected, whose invite
    therefore was not mailed (app.calendars.fallback)."""
    if event is not None:
        if event.connection_id == lost.id:
            await mail_instead(session, event.id, now=now)
        return
    if participant.sync_state is SyncState.PENDING and not await _invite_mailed(
        session, interview, participant, InviteMethod.REQUEST
    ):
        await mail_unwritten(session, interview, participant, lost.provider, now=now)


async def _invite_mailed(
    session: AsyncSession, interview: Interview, participant: Participant, method: InviteMethod
) -> bool:
    """Whether this member was mailed the interview's current SEQUENCE as `method`."""
    rows = await session.scalars(
        select(OutboxMessage.payload).where(
            OutboxMessage.topic == MAIL_TOPIC,
            OutboxMessage.payload["interview_id"].as_string() == str(interview.id),
        )
    )
    return any(
        str(payload.get("to", "")).lower() == participant.email.lower()
        and payload.get("invite") == method.value
        and payload.get("sequence") == interview.ical_sequence
        for payload in rows
    )


@dataclass(frozen=True)
class Decision:
    """What one member's copy needs: an action, and for a delete, what it targets."""

    action: Action | None  # None: nothing to write; for a removal, forget our row
    record: bool = False  # (re)point our event row at the member's current calendar first
    target: str | None = None  # the provider's event to delete
    error: str | None = None  # kept on a row forgotten without a delete


def decide_live(
    event: CalendarEvent | None, connection: CalendarConnection | None, sequence: int
) -> Decision | None:
    """A booked interview: what the member's connected calendar still needs, if anything."""
    if connection is None:
        return None  # not connected: the member was invited by mail
    if event is None or event.connection_id != connection.id:
        return Decision(Action.CREATE, record=True)
    if event.provider_event_id is None:
        return Decision(Action.CREATE)
    if event.state is CalendarEventState.SYNCED and event.sequence >= sequence:
        return None  # written, and nothing changed since
    return Decision(Action.UPDATE)


def decide_removal(
    event: CalendarEvent, old: CalendarConnection | None, key: str
) -> Decision | None:
    """A cancelled interview: remove the copy we wrote, or forget it if it is out of reach."""
    if event.state is CalendarEventState.DELETED:
        return None
    if old is not None and old.state is ConnectionState.DISCONNECTING:
        return None  # the disconnect job removes it (app.calendars.disconnect)
    target = event.provider_event_id
    if target is None and old is not None and providers.spec(old.provider).client_chosen_event_ids:
        target = key  # a create whose answer was lost may still have landed
    if old is not None and old.state is ConnectionState.CONNECTED and target is None:
        # Graph chose the id of a create whose answer was lost: the event may exist there,
        # so it is looked for by the reference line every copy carries (`Step.search`).
        return Decision(Action.DELETE, target=None)
    if old is None or old.state is not ConnectionState.CONNECTED or target is None:
        return Decision(None, error=None if target is None else "calendar disconnected")
    return Decision(Action.DELETE, target=target)


def creates_conference(user_id: uuid.UUID, interview: Interview) -> bool:
    """The requester's copy creates the Meet or Teams call, only while the booking waits for
    it (app.calendars.conference): once mails went out with a link, a copy written later (a
    new calendar) must not make a second one."""
    return user_id == interview.requested_by_id and interview.conference_pending_since is not None


def conference_first(step: Step) -> bool:
    """Sort key: the copy creating the conference first, so the others carry its link."""
    return not step.create_conference


def _record_row(
    session: AsyncSession,
    event: CalendarEvent | None,
    interview: Interview,
    participant: Participant,
    connection: CalendarConnection,
    now: datetime,
) -> CalendarEvent:
    if event is None:
        event = CalendarEvent(
            id=uuid.uuid4(),
            interview_id=interview.id,
            participant_id=participant.id,
            created_at=now,
            attempts=0,
        )
        session.add(event)
    # (Re)pointed at the member's current calendar: written there afresh.
    event.connection_id = connection.id
    event.provider = connection.provider
    event.provider_event_id = None
    event.ical_uid = interview_uid(interview.id)
    event.sequence = interview.ical_sequence
    event.state = CalendarEventState.PENDING
    event.updated_at = now
    return event


async def content_of(session: AsyncSession, interview: Interview) -> Content:
    proposal = await session.get(Proposal, interview.proposal_id)
    assert proposal is not None
    project = await session.get(Project, proposal.project_id)
    candidate = await session.get(User, proposal.candidate_id)
    assert project is not None and candidate is not None and interview.booked_start
    assert interview.booked_end is not None
    people = list(
        await session.scalars(
            select(Participant.email)
            .where(Participant.interview_id == interview.id)
            .order_by(Participant.email)
        )
    )
    lines = (
        f"Interview, round {interview.round}, for {project.title}.",
        f"Candidate: {candidate.name} <{candidate.email}>",
        f"Participants: {', '.join(people)}",
        "Scheduled with Roundtable.",
        # How the reconcile sweep recognises copies of this interview made by hand.
        f"{REFERENCE_LABEL} {interview_uid(interview.id)}",
    )
    return Content(
        title=f"Interview: {candidate.name}, {project.title} (round {interview.round})",
        lines=lines,
        start=interview.booked_start,
        end=interview.booked_end,
        time_zone=interview.time_zone,
        sequence=interview.ical_sequence,
        uid=interview_uid(interview.id),
    )


def event_spec(plan: Plan, step: Step) -> EventSpec | None:
    content = plan.content
    if content is None or step.action is Action.DELETE:
        return None
    lines = list(content.lines)
    if plan.conference_url and not step.create_conference:
        lines.insert(1, f"Join: {plan.conference_url}")
    return EventSpec(
        key=step.key,
        ical_uid=content.uid,
        sequence=content.sequence,
        title=content.title,
        description="\n".join(lines),
        start=content.start,
        end=content.end,
        time_zone=content.time_zone,
        location=None if step.create_conference else plan.conference_url,
        create_conference=step.create_conference,
    )
