"""The candidate's side: the free slots, booking one, asking for other times."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import Viewer
from app.calendars.conference import expect_provider_conference
from app.calendars.connections import provider_configured
from app.calendars.freebusy import (
    BusyResult,
    ConnectionToAsk,
    ask_calendars,
    connections_to_ask,
    keep_refreshed_tokens,
)
from app.calendars.sync import request_sync
from app.conference import meeting_link
from app.config import Settings
from app.db import begin_write
from app.errors import ErrorCode, ServiceError, validation
from app.models import (
    CalendarProvider,
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
from app.scheduling.load import LoadBook, over_limits
from app.scheduling.slots import Availability, free_slots, group_by_local_date
from app.scheduling.windows import TimeRange
from app.text import optional_text, preview
from app.timezones import zone
from app.webhooks.events import (
    EventType,
    emit_interview,
    endpoints_enabled,
    note_endpoints_enabled,
)

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
    """The free slots. Ends the session's read before asking any provider (and writes a
    refreshed token in a short transaction after): call it with no write pending."""
    tz = zone(time_zone)
    if tz is None:
        raise ServiceError(
            [validation(f"{preview(time_zone)} is not an IANA time zone", "timeZone")]
        )
    found = await interview_for(session, viewer, interview_id)
    if found.interview.status is not InterviewStatus.PENDING:
        return Availability(days=[], offered=0, free=0)
    free, offered, unchecked = await _open_now(session, settings, found, now)
    return Availability(
        days=group_by_local_date(free, tz),
        offered=offered,
        free=len(free),
        unchecked_calendars=unchecked,
    )


async def _open_now(
    session: AsyncSession, settings: Settings, found: InterviewContext, now: datetime
) -> tuple[list[TimeRange], int, list[str]]:
    """(free slots, how many offered, unchecked calendars), the calendars asked with the
    session's read ended."""
    slots = await _read_slots(session, found, calendars=True)
    answer = await _ask(session, slots, settings)
    if answer.busy.refreshed:
        await begin_write(session)
        await keep_refreshed_tokens(session, answer.busy)
        await session.commit()
    free, offered = slots.open(settings, now, answer.busy.ranges)
    return free, offered, answer.busy.unchecked


@dataclass(frozen=True)
class _People:
    members: frozenset[uuid.UUID]
    candidate: uuid.UUID

    @property
    def everyone(self) -> set[uuid.UUID]:
        """Nobody, members nor candidate, may be in two interviews at once."""
        return {*self.members, self.candidate}


@dataclass(frozen=True)
class _Slots:
    """What the database says of an interview's slots: the windows, its people's bookings
    inside them, the load limits that apply, and the connected calendars to ask about the
    whole span of the windows."""

    windows: list[TimeRange]
    booked: list[TimeRange]
    duration: timedelta
    people: _People
    calendars: list[ConnectionToAsk]
    load: list[LoadBook]

    @property
    def span(self) -> TimeRange | None:
        if not self.windows:
            return None
        return TimeRange(min(w.start for w in self.windows), max(w.end for w in self.windows))

    def open(
        self, settings: Settings, now: datetime, calendar_busy: list[TimeRange]
    ) -> tuple[list[TimeRange], int]:
        """Slots not blocked by notice, bookings, connected calendars or load limits; how
        many the windows offer."""
        free, offered = free_slots(
            self.windows,
            duration=self.duration,
            busy=[*self.booked, *calendar_busy],
            earliest_start=now + timedelta(minutes=settings.min_notice_minutes),
        )
        if self.load:
            # A slot that would take a member over their daily or weekly limit is not offered.
            free = [slot for slot in free if not over_limits(self.load, slot.start)]
        return free, offered


async def _read_slots(session: AsyncSession, found: InterviewContext, *, calendars: bool) -> _Slots:
    """One statement for windows, people, bookings, calendar presence and limited members;
    the connections to ask only when a member has one, the load only when one is limited."""
    interview = found.interview
    candidate = found.proposal.candidate_id
    inputs = await repository.slot_inputs(session, interview.id, candidate)
    slots = _Slots(
        inputs.windows,
        inputs.busy,
        timedelta(minutes=interview.duration_minutes),
        _People(frozenset(inputs.members), candidate),
        [],
        [],
    )
    span = slots.span
    if span is None:
        return slots
    asked: list[ConnectionToAsk] = []
    if calendars and inputs.calendars:
        asked = await connections_to_ask(session, sorted(inputs.members))
    load: list[LoadBook] = []
    if inputs.limited:
        load = await repository.load_books(
            session,
            inputs.limited,
            start=span.start,
            end=span.end,
            exclude_interview_id=interview.id,
        )
    return dataclasses.replace(slots, calendars=asked, load=load)


@dataclass(frozen=True)
class CalendarAnswer:
    """What the members' connected calendars said about an interview's windows.

    Asked before the booking's transaction (a provider may take seconds, and nothing may
    wait on it); the transaction then checks that it covers what it books. With no calendar
    provider configured nothing can be asked, and the answer covers everything.
    """

    members: frozenset[uuid.UUID]
    span: TimeRange | None  # the range asked about: all the interview's windows
    busy: BusyResult
    needed: bool = True

    @classmethod
    def not_needed(cls) -> CalendarAnswer:
        return cls(frozenset(), None, BusyResult(), needed=False)

    def covers(self, people: _People, slot: TimeRange) -> bool:
        if not self.needed:
            return True
        return (
            people.members <= self.members
            and self.span is not None
            and self.span.start <= slot.start
            and slot.end <= self.span.end
        )


async def _ask(session: AsyncSession, slots: _Slots, settings: Settings) -> CalendarAnswer:
    """Ask the connected calendars, after ending the session's read: no transaction stays
    open (holding the SQLite lock or PostgreSQL row locks and a pooled connection) while a
    provider answers. With no calendar to ask, the caller's transaction is left alone."""
    span = slots.span
    if span is None or not slots.calendars:
        return CalendarAnswer(slots.people.members, span, BusyResult())
    if session.in_transaction():
        await session.commit()
    busy = await ask_calendars(slots.calendars, span.start, span.end, settings=settings)
    return CalendarAnswer(slots.people.members, span, busy)


async def ask_member_calendars(
    *,
    session: AsyncSession,
    viewer: Viewer,
    settings: Settings,
    interview_id: uuid.UUID,
    moving: bool = False,
) -> CalendarAnswer:
    """The first step of a booking (or of moving one), before its transaction: read whom
    to ask in `session`, end that read (commit), then ask the providers with no transaction
    open. Call it first thing, with nothing written yet; `book_slot` (`move_booking`)
    follows in a transaction of its own. With no provider configured it reads nothing."""
    if not _providers_configured(settings):
        if session.in_transaction():
            await session.commit()  # the caller's read ends here all the same
        return CalendarAnswer.not_needed()
    found = await interview_for(session, viewer, interview_id)
    status = found.interview.status
    if moving:
        askable = status is InterviewStatus.BOOKED
    else:
        askable = status is InterviewStatus.PENDING and viewer.id == found.proposal.candidate_id
    slots = await _read_slots(session, found, calendars=askable)
    await session.commit()  # the read ends here, whether or not a provider is asked
    return await _ask(session, slots, settings)


async def claim_slot(
    session: AsyncSession,
    settings: Settings,
    found: InterviewContext,
    *,
    start: datetime,
    now: datetime,
    calendars: CalendarAnswer,
) -> tuple[TimeRange | None, _People]:
    """The offered slot starting at `start` if it is still free, with its people locked.

    Shared by booking and moving a booking. Under the people's locks only this transaction
    can book them: the bookings and load read now stay true until commit (the EXCLUDE
    constraint is the backstop on PostgreSQL). No provider is called here: `calendars` is
    what was heard before the transaction.
    """
    listening = await repository.lock_people_of(
        session,
        interview_id=found.interview.id,
        candidate_id=found.proposal.candidate_id,
        also=endpoints_enabled(),  # saves the booking a read of the webhook endpoints
    )
    if listening is not None:
        note_endpoints_enabled(session, listening)
    slots = await _read_slots(session, found, calendars=False)
    free, _ = slots.open(settings, now, calendars.busy.ranges)
    slot = next((s for s in free if s.start == start), None)
    if slot is not None and not calendars.covers(slots.people, slot):
        slot = None  # the windows or people changed since the calendars were asked
    return slot, slots.people


async def free_slots_of(
    session: AsyncSession, settings: Settings, found: InterviewContext, now: datetime
) -> tuple[list[TimeRange], int, list[str]]:
    """The interview's open slots by the candidate's rules, its own booking left aside:
    (free, offered, unchecked calendars). For moving a booking."""
    return await _open_now(session, settings, found, now)


async def book_slot(
    *,
    session: AsyncSession,
    viewer: Viewer,
    settings: Settings,
    interview_id: uuid.UUID,
    start: datetime,
    time_zone: str,
    now: datetime,
    calendars: CalendarAnswer,
) -> Interview:
    """The booking's transaction. `calendars` is what `ask_member_calendars` heard before it:
    no provider is called here, and the database is checked again under the people's locks.
    """
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

    slot, people = await claim_slot(
        session, settings, found, start=start, now=now, calendars=calendars
    )
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
    await keep_refreshed_tokens(session, calendars.busy)
    if viewer.user.time_zone != time_zone:
        # The zone the candidate chose is theirs from now on: every later mail and in-app
        # message, and this booking's, is written in it.
        await session.execute(update(User).where(User.id == viewer.id).values(time_zone=time_zone))
    await _tell_booked(session, found, time_zone, viewer)
    request_sync(session, interview.id)
    await emit_interview(session, EventType.BOOKED, interview)
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
