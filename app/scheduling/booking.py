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
from app.calendars.connections import provider_configured
from app.calendars.freebusy import BusyResult, calendar_busy
from app.calendars.sync import request_sync
from app.conference import meeting_link
from app.config import Settings
from app.errors import ErrorCode, ServiceError, validation
from app.models import (
    CalendarProvider,
    Interview,
    InterviewStatus,
    Role,
    SlotReservation,
    SyncState,
    User,
)
from app.notifications.events import Event, actor_of
from app.notifications.kinds import InviteMethod, MessageKind
from app.notifications.service import tell
from app.notifications.text import when
from app.scheduling import repository
from app.scheduling.access import InterviewContext, interview_for, require_open
from app.scheduling.audience import load_audience
from app.scheduling.load import over_limits
from app.scheduling.slots import Availability, free_slots, group_by_local_date
from app.scheduling.windows import TimeRange
from app.text import optional_text, preview
from app.timezones import zone

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
    opened, _ = await _open_slots(session, settings, found, now)
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
) -> tuple[_Open, _People]:
    """Slots of the windows not blocked by notice, bookings or connected calendars, and the
    people whose time they take. One statement, plus the calendars' when members have any."""
    interview = found.interview
    candidate = found.proposal.candidate_id
    inputs = await repository.slot_inputs(session, interview.id, candidate)
    people = _People(members=inputs.members, candidate=candidate)
    windows = inputs.windows
    if not windows:
        return _Open([], 0, []), people
    start, end = windows[0].start, max(w.end for w in windows)
    external = BusyResult()
    if inputs.calendars:
        external = await calendar_busy(
            session, sorted(people.members), start, end, settings=settings
        )
    free, offered = free_slots(
        windows,
        duration=timedelta(minutes=interview.duration_minutes),
        busy=[*inputs.busy, *external.ranges],
        earliest_start=now + timedelta(minutes=settings.min_notice_minutes),
    )
    if inputs.limited:
        books = await repository.load_books(
            session, inputs.limited, start=start, end=end, exclude_interview_id=interview.id
        )
        # A slot that would take a member over their daily or weekly limit is not offered.
        free = [slot for slot in free if not over_limits(books, slot.start)]
    return _Open(free, offered, external.unchecked), people


async def claim_slot(
    session: AsyncSession,
    settings: Settings,
    found: InterviewContext,
    *,
    start: datetime,
    now: datetime,
) -> tuple[TimeRange | None, _People]:
    """The offered slot starting at `start` if it is still free, with its people locked.

    Shared by booking and moving a booking. Checked once before locking the people
    (provider calls are slow and their answers are cached briefly), then again under those
    locks, where only the database can change: bookings and load limits of the people.
    With no calendar provider configured there is no slow call to keep out of the locks:
    the people are locked first and the slot checked once.
    """
    if _providers_configured(settings):
        opened, people = await _open_slots(session, settings, found, now)
        if not any(s.start == start for s in opened.free):
            return None, people
    await repository.lock_people_of(
        session, interview_id=found.interview.id, candidate_id=found.proposal.candidate_id
    )
    opened, people = await _open_slots(session, settings, found, now)
    return next((s for s in opened.free if s.start == start), None), people


async def free_slots_of(
    session: AsyncSession, settings: Settings, found: InterviewContext, now: datetime
) -> tuple[list[TimeRange], int, list[str]]:
    """The interview's open slots by the candidate's rules, its own booking left aside:
    (free, offered, unchecked calendars). For moving a booking."""
    opened, _ = await _open_slots(session, settings, found, now)
    return opened.free, opened.offered, opened.unchecked_calendars


@dataclass(frozen=True)
class _People:
    members: set[uuid.UUID]
    candidate: uuid.UUID

    @property
    def everyone(self) -> set[uuid.UUID]:
        """Nobody, members nor candidate, may be in two interviews at once."""
        return self.members | {self.candidate}


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

    slot, people = await claim_slot(session, settings, found, start=start, now=now)
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
    return interview


def _providers_configured(settings: Settings) -> bool:
    return any(provider_configured(settings, p) for p in CalendarProvider)


def _sqlstate(exc: IntegrityError) -> str | None:
    return getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)


async def _tell_booked(
    session: AsyncSession, found: InterviewContext, time_zone: str, viewer: Viewer
) -> None:
    interview = found.interview
    audience = await load_audience(session, interview, found.proposal, found.project)
    for participant in audience.participants:
        participant.sync_state = SyncState.PENDING
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
    await session.flush()
    return interview
