"""The candidate's side: the free slots, booking one, asking for other times."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import Viewer
from app.calendars.conference import expect_provider_conference
from app.calendars.freebusy import calendar_busy
from app.calendars.sync import request_sync
from app.conference import meeting_link
from app.config import Settings
from app.errors import ErrorCode, ServiceError, validation
from app.models import (
    Interview,
    InterviewStatus,
    Role,
    SlotReservation,
    User,
)
from app.notifications.events import Event, actor_of
from app.notifications.kinds import InviteMethod, MessageKind
from app.notifications.service import tell
from app.notifications.text import when
from app.participants import state as sync_state
from app.scheduling import repository
from app.scheduling.access import InterviewContext, interview_for, require_open
from app.scheduling.audience import load_audience
from app.scheduling.slots import Availability, free_slots, group_by_local_date
from app.scheduling.windows import TimeRange
from app.text import optional_text, preview
from app.timezones import zone
from app.webhooks.events import EventType, emit_interview

EXCLUSION_VIOLATION = "23P01"


async def available_slots(
    *,
    session: AsyncSession,
    viewer: Viewer,
    settings: Settings,
    interview_id: uuid.UUID,
    time_zone: str,
    now: datetime,
) -> Availability:
    tz = zone(time_zone)
    if tz is None:
        raise ServiceError(
            [validation(f"{preview(time_zone)} is not an IANA time zone", "timeZone")]
        )
    found = await interview_for(session, viewer, interview_id)
    if found.interview.status is not InterviewStatus.PENDING:
        return Availability(days=[], offered=0, free=0)
    opened = await _open_slots(session, settings, found, now, await _people_of(session, found))
    return Availability(
        days=group_by_local_date(opened.free, tz),
        offered=opened.offered,
        free=len(opened.free),
        unchecked_calendars=opened.unchecked_calendars,
    )


@dataclass(frozen=True)
class _Open:
    free: list[TimeRange]
    offered: int
    unchecked_calendars: list[str]


async def _open_slots(
    session: AsyncSession,
    settings: Settings,
    found: InterviewContext,
    now: datetime,
    people: _People,
) -> _Open:
    """Slots of the windows not blocked by notice, bookings or connected calendars."""
    interview = found.interview
    windows = [
        TimeRange(w.starts_at, w.ends_at)
        for w in await repository.windows_of(session, interview.id)
    ]
    if not windows:
        return _Open([], 0, [])
    start, end = min(w.start for w in windows), max(w.end for w in windows)
    busy = await repository.busy_ranges(
        session, people.everyone, start=start, end=end, exclude_interview_id=interview.id
    )
    external = await calendar_busy(session, sorted(people.members), start, end, settings=settings)
    free, offered = free_slots(
        windows,
        duration=timedelta(minutes=interview.duration_minutes),
        busy=[*busy, *external.ranges],
        earliest_start=now + timedelta(minutes=settings.min_notice_minutes),
    )
    return _Open(free, offered, external.unchecked)


@dataclass(frozen=True)
class _People:
    members: set[uuid.UUID]
    candidate: uuid.UUID

    @property
    def everyone(self) -> set[uuid.UUID]:
        """Nobody, members nor candidate, may be in two interviews at once."""
        return self.members | {self.candidate}


async def _people_of(session: AsyncSession, found: InterviewContext) -> _People:
    participants = await repository.participants_of(session, found.interview.id)
    members = {p.user_id for p in participants if p.user_id is not None}
    return _People(members=members, candidate=found.proposal.candidate_id)


async def book_slot(
    *,
    session: AsyncSession,
    viewer: Viewer,
    settings: Settings,
    interview_id: uuid.UUID,
    start: datetime,
    time_zone: str,
    now: datetime,
) -> Interview:
    if zone(time_zone) is None:
        raise ServiceError(
            [validation(f"{preview(time_zone)} is not an IANA time zone", "timeZone")]
        )
    if start.tzinfo is None:
        raise ServiceError([validation("give the start with its UTC offset", "start")])
    found = await interview_for(session, viewer, interview_id, lock=True)
    interview = found.interview
    if viewer.id != found.proposal.candidate_id:
        raise ServiceError.one(
            ErrorCode.FORBIDDEN, "only the candidate can book the interview", "interviewId"
        )
    if interview.status is InterviewStatus.BOOKED and interview.booked_start == start:
        return interview  # the same booking again: answer with it, change nothing
    if interview.status is not InterviewStatus.PENDING:
        raise ServiceError.one(
            ErrorCode.INVALID_STATE,
            f"the interview is {interview.status.value.lower()}; it cannot be booked",
            "interviewId",
        )
    require_open(found.proposal)

    people = await _people_of(session, found)
    # Checked once before locking the people (provider calls are slow and their answers are
    # cached briefly), then again under those locks, where only the database can change.
    for locked in (False, True):
        if locked:
            await repository.lock_people(session, people.everyone)
        opened = await _open_slots(session, settings, found, now, people)
        slot = next((s for s in opened.free if s.start == start), None)
        if slot is None:
            break
    if slot is None:
        raise ServiceError.one(
            ErrorCode.SLOT_UNAVAILABLE,
            f"{when(start, time_zone)} is not available any more; choose another time",
            "start",
        )
    session.add_all(
        SlotReservation(
            interview_id=interview.id, user_id=person, starts_at=slot.start, ends_at=slot.end
        )
        for person in sorted(people.everyone)
    )
    interview.status = InterviewStatus.BOOKED
    interview.booked_start, interview.booked_end = slot.start, slot.end
    interview.booked_by_id = viewer.id
    interview.alternative_times_requested = False
    interview.conference_url, interview.conference_provider = meeting_link(settings, interview.id)
    await expect_provider_conference(session=session, settings=settings, interview=interview)
    try:
        await session.flush()
    except IntegrityError as exc:
        if _sqlstate(exc) == EXCLUSION_VIOLATION:
            raise ServiceError.one(
                ErrorCode.SLOT_UNAVAILABLE,
                f"{when(start, time_zone)} was just taken; choose another time",
                "start",
            ) from None
        raise
    if viewer.user.time_zone != time_zone:
        # The zone the candidate chose is theirs from now on: every later mail and in-app
        # message, and this booking's, is written in it.
        await session.execute(update(User).where(User.id == viewer.id).values(time_zone=time_zone))
    await _tell_booked(session, found, time_zone, viewer)
    request_sync(session, interview.id)
    await emit_interview(session, EventType.BOOKED, interview)
    return interview


def _sqlstate(exc: IntegrityError) -> str | None:
    return getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)


async def _tell_booked(
    session: AsyncSession, found: InterviewContext, time_zone: str, viewer: Viewer
) -> None:
    interview = found.interview
    audience = await load_audience(session, interview, found.proposal, found.project)
    sync_state.awaiting(audience.participants)
    assert interview.booked_start is not None
    what = f"round {interview.round} for {found.project.title}"
    tell(
        session,
        recipients=[
            audience.candidate_r(InviteMethod.REQUEST),
            *audience.team_r(InviteMethod.REQUEST),
            audience.manager_r(),
        ],
        kind=MessageKind.INTERVIEW_BOOKED,
        interview=interview,
        event=Event(actor=actor_of(viewer.user)),
        message=(
            f"{audience.candidate.name} booked the interview ({what}) for "
            f"{when(interview.booked_start, time_zone)}. Join: {interview.conference_url}"
        ),
    )


async def request_alternative_times(
    *,
    session: AsyncSession,
    viewer: Viewer,
    interview_id: uuid.UUID,
    message: str | None,
) -> Interview:
    found = await interview_for(session, viewer, interview_id, lock=True)
    interview = found.interview
    if viewer.user.role is not Role.CANDIDATE or viewer.id != found.proposal.candidate_id:
        raise ServiceError.one(
            ErrorCode.FORBIDDEN, "only the candidate can ask for other times", "interviewId"
        )
    if interview.status is not InterviewStatus.PENDING:
        raise ServiceError.one(
            ErrorCode.INVALID_STATE,
            "other times can be asked for only while the interview is pending",
            "interviewId",
        )
    text = optional_text(message, field="message")
    if interview.alternative_times_requested and interview.alternative_times_message == text:
        return interview  # asked already with these words: nobody is told twice
    interview.alternative_times_requested = True
    interview.alternative_times_message = text
    audience = await load_audience(session, interview, found.proposal, found.project)
    note = f"{audience.candidate.name} did not find a suitable time for round {interview.round}"
    note += f" ({found.project.title})." + (f' Message: "{text}"' if text else "")
    tell(
        session,
        recipients=[audience.manager_r(), audience.requester_r()],
        kind=MessageKind.ALTERNATIVE_TIMES_REQUESTED,
        interview=interview,
        event=Event(actor=actor_of(viewer.user)),
        message=note,
    )
    await emit_interview(session, EventType.ALTERNATIVE_TIMES_REQUESTED, interview)
    await session.flush()
    return interview
