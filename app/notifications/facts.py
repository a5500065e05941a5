"""What a mail says about an interview, read from the database when the mail is sent.

The outbox payload names the interview, the recipient and the kind, and keeps what cannot be
read back later (who acted, what changed: app.notifications.events); the times, the people
and the conference link are read here, so every recipient's mail and in-app message is
rendered in their own time zone from the same, current facts.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    AvailabilityWindow,
    Interview,
    InterviewStatus,
    Organization,
    Participant,
    Project,
    Proposal,
    User,
)
from app.notifications.events import Event, from_json
from app.notifications.ical import Person
from app.notifications.kinds import InviteMethod, MessageKind


@dataclass(frozen=True)
class MailIntent:
    """One outbox row of topic "mail", as written by `notifications.service.tell`."""

    outbox_id: uuid.UUID
    created_at: datetime
    kind: str
    to: str
    time_zone: str
    user_id: uuid.UUID | None
    interview_id: uuid.UUID | None
    invite: InviteMethod | None
    sequence: int | None
    message: str
    link_grant_id: uuid.UUID | None = None
    event: Event | None = None
    # The interview whose calendar event the invite is about, when not `interview_id`: a
    # reschedule's mail is about the new request and carries the old booking's CANCEL.
    invite_interview_id: uuid.UUID | None = None

    @property
    def invite_about(self) -> uuid.UUID | None:
        return self.invite_interview_id or self.interview_id

    @classmethod
    def from_payload(
        cls, outbox_id: uuid.UUID, created_at: datetime, payload: dict[str, Any]
    ) -> MailIntent:
        invite = payload.get("invite")
        return cls(
            outbox_id=outbox_id,
            created_at=created_at,
            kind=str(payload.get("kind", "")),
            to=str(payload["to"]),
            time_zone=str(payload.get("time_zone") or "UTC"),
            user_id=_uuid(payload.get("user_id")),
            interview_id=_uuid(payload.get("interview_id")),
            invite=InviteMethod(invite) if invite else None,
            sequence=payload.get("sequence"),
            message=str(payload.get("message", "")),
            link_grant_id=_uuid(payload.get("link_grant_id")),
            event=from_json(payload.get("event")),
            invite_interview_id=_uuid(payload.get("invite_interview_id")),
        )


@dataclass(frozen=True)
class InterviewFacts:
    interview_id: uuid.UUID
    round: int
    status: InterviewStatus
    project_title: str
    team_time_zone: str
    candidate: Person
    candidate_id: uuid.UUID
    requester: Person
    participants: tuple[Person, ...]
    windows: tuple[tuple[datetime, datetime], ...]
    booked_start: datetime | None
    booked_end: datetime | None
    conference_url: str | None
    cancel_reason: str | None
    alternative_message: str | None
    ical_sequence: int
    # Set while the requester's calendar is still creating the Meet / Teams meeting.
    conference_pending_since: datetime | None = None
    organization: str = ""
    organization_id: uuid.UUID | None = None
    requester_id: uuid.UUID | None = None
    manager: Person | None = None  # the project's account manager
    manager_id: uuid.UUID | None = None
    duration_minutes: int = 30
    alternative_requested: bool = False
    member_ids: frozenset[uuid.UUID] = frozenset()

    @property
    def horizon(self) -> datetime | None:
        """The interview's last moment as it stands: the booking's end or the last window's."""
        if self.booked_end is not None:
            return self.booked_end
        return max((end for _, end in self.windows), default=None)

    @property
    def attendees(self) -> tuple[Person, ...]:
        """Everyone in the meeting: the candidate first, then the team."""
        seen = {self.candidate.email}
        rest = []
        for person in self.participants:
            if person.email not in seen:
                seen.add(person.email)
                rest.append(person)
        return (self.candidate, *rest)


def _uuid(value: object) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None


async def load_interview_facts(
    session: AsyncSession, interview_id: uuid.UUID
) -> InterviewFacts | None:
    return (await load_many_interview_facts(session, [interview_id])).get(interview_id)


async def load_many_interview_facts(
    session: AsyncSession, interview_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, InterviewFacts]:
    """The facts of several interviews in four statements, however many (in-app lists)."""
    ids = set(interview_ids)
    if not ids:
        return {}
    rows = (
        await session.execute(
            select(Interview, Proposal, Project, Organization)
            .join(Proposal, Proposal.id == Interview.proposal_id)
            .join(Project, Project.id == Proposal.project_id)
            .join(Organization, Organization.id == Project.organization_id)
            .where(Interview.id.in_(ids))
        )
    ).all()
    if not rows:
        return {}
    participants: dict[uuid.UUID, list[Participant]] = defaultdict(list)
    for participant in await session.scalars(
        select(Participant)
        .where(Participant.interview_id.in_(ids))
        .order_by(Participant.kind, Participant.email)
    ):
        participants[participant.interview_id].append(participant)
    user_ids: set[uuid.UUID] = set()
    for interview, proposal, project, _ in rows:
        user_ids |= {proposal.candidate_id, interview.requested_by_id, project.account_manager_id}
        user_ids |= {p.user_id for p in participants[interview.id] if p.user_id is not None}
    users = {u.id: u for u in await session.scalars(select(User).where(User.id.in_(user_ids)))}
    windows: dict[uuid.UUID, list[AvailabilityWindow]] = defaultdict(list)
    for window in await session.scalars(
        select(AvailabilityWindow)
        .where(AvailabilityWindow.interview_id.in_(ids))
        .order_by(AvailabilityWindow.starts_at)
    ):
        windows[window.interview_id].append(window)
    return {
        row[0].id: _facts(*row, participants[row[0].id], users, windows[row[0].id]) for row in rows
    }


def _facts(
    interview: Interview,
    proposal: Proposal,
    project: Project,
    organization: Organization,
    participants: list[Participant],
    users: dict[uuid.UUID, User],
    windows: list[AvailabilityWindow],
) -> InterviewFacts:
    candidate, requester = users[proposal.candidate_id], users[interview.requested_by_id]
    manager = users[project.account_manager_id]
    return InterviewFacts(
        interview_id=interview.id,
        round=interview.round,
        status=interview.status,
        project_title=project.title,
        team_time_zone=interview.time_zone,
        candidate=Person(candidate.email, candidate.name),
        candidate_id=candidate.id,
        requester=Person(requester.email, requester.name),
        participants=tuple(
            Person(p.email, users[p.user_id].name if p.user_id in users else None)
            for p in participants
        ),
        windows=tuple((w.starts_at, w.ends_at) for w in windows),
        booked_start=interview.booked_start,
        booked_end=interview.booked_end,
        conference_url=interview.conference_url,
        conference_pending_since=interview.conference_pending_since,
        cancel_reason=interview.cancel_reason,
        alternative_message=interview.alternative_times_message,
        ical_sequence=interview.ical_sequence,
        organization=organization.name,
        organization_id=organization.id,
        requester_id=requester.id,
        manager=Person(manager.email, manager.name),
        manager_id=manager.id,
        duration_minutes=interview.duration_minutes,
        alternative_requested=interview.alternative_times_requested,
        member_ids=frozenset(p.user_id for p in participants if p.user_id is not None),
    )


@dataclass(frozen=True)
class Reader:
    """The person a mail is for, as they are now: their name and their own time zone."""

    name: str | None
    time_zone: str | None


async def load_reader(session: AsyncSession, user_id: uuid.UUID | None) -> Reader:
    if user_id is None:
        return Reader(None, None)
    row = (
        await session.execute(select(User.name, User.time_zone).where(User.id == user_id))
    ).one_or_none()
    return Reader(None, None) if row is None else Reader(row[0], row[1])


def superseded(intent: MailIntent, facts: InterviewFacts | None) -> str | None:
    """Why a mail should no longer go out, if it should not.

    A reminder to book is pointless once the interview is booked or cancelled; a booking
    invite that a cancellation (a higher SEQUENCE) has replaced would only confuse.
    """
    if facts is None:
        return None
    if intent.kind == MessageKind.BOOKING_REMINDER and facts.status is not InterviewStatus.PENDING:
        return f"the interview is {facts.status.value.lower()}: no reminder"
    if (
        intent.invite is InviteMethod.REQUEST
        and facts.status is InterviewStatus.CANCELLED
        and (intent.sequence or 0) < facts.ical_sequence
    ):
        return "the booking was cancelled before its invite went out"
    return None
