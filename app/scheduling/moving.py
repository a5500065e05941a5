"""Moving a booked interview to another offered slot of the same request, in one step.

The new slot is claimed through booking's own path (`booking.claim_slot`: notice, other
bookings, connected calendars, load limits, with the people locked), and the reservations
are moved in place. If the new slot is gone the transaction is rolled back and the old
booking stands (SLOT_UNAVAILABLE). Calendars and invites are updated as one event: the
same UID with a higher SEQUENCE, the same conference link, and everyone is told once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import Viewer
from app.calendars.sync import request_sync
from app.config import Settings
from app.errors import ErrorCode, ServiceError, validation
from app.models import Interview, InterviewStatus, SlotReservation, SyncState
from app.notifications.events import Event, actor_of
from app.notifications.kinds import InviteMethod, MessageKind
from app.notifications.service import tell
from app.notifications.text import when
from app.scheduling.access import InterviewContext, interview_for, require_open, require_team
from app.scheduling.audience import load_audience
from app.scheduling.booking import (
    EXCLUSION_VIOLATION,
    CalendarAnswer,
    _sqlstate,
    claim_slot,
    free_slots_of,
)
from app.scheduling.requests import actor_name
from app.scheduling.slots import Availability, group_by_local_date
from app.scheduling.windows import TimeRange
from app.text import preview
from app.timezones import zone


@dataclass(frozen=True)
class MoveRules:
    cutoff: timedelta  # moving is refused from this long before the booked start
    max_moves: int


def rules_of(settings: Settings) -> MoveRules:
    return MoveRules(timedelta(hours=settings.move_cutoff_hours), settings.max_moves)


def move_refusal(
    rules: MoveRules, *, booked_start: datetime, moves_so_far: int, now: datetime
) -> str | None:
    """Why this booking may not be moved any more, if it may not."""
    if booked_start - now < rules.cutoff:
        hours = int(rules.cutoff.total_seconds() // 3600)
        return (
            f"an interview can be moved until {hours} hours before it starts; cancel it or "
            "contact your account manager instead"
        )
    if moves_so_far >= rules.max_moves:
        return (
            f"this interview was moved {moves_so_far} times already, the most allowed; "
            "cancel it or contact your account manager instead"
        )
    return None


async def move_booking(
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
    """The move's transaction. `calendars` is what `booking.ask_member_calendars(moving=True)`
    heard before it: no provider is called with the transaction open."""
    if zone(time_zone) is None:
        raise ServiceError(
            [validation(f"{preview(time_zone)} is not an IANA time zone", "timeZone")]
        )
    if start.tzinfo is None:
        raise ServiceError([validation("give the start with its UTC offset", "start")])
    found = await interview_for(session, viewer, interview_id, lock=True)
    interview = found.interview
    if viewer.id != found.proposal.candidate_id:
        require_team(viewer, found.project)
    if interview.status is not InterviewStatus.BOOKED or interview.booked_start is None:
        raise ServiceError.one(
            ErrorCode.INVALID_STATE,
            f"the interview is {interview.status.value.lower()}; only a booked interview "
            "can be moved",
            "interviewId",
        )
    old = TimeRange(interview.booked_start, interview.booked_end or interview.booked_start)
    if start == old.start:
        return interview  # already there: nothing changes, nobody is told, no move counted
    refusal = move_refusal(
        rules_of(settings), booked_start=old.start, moves_so_far=interview.move_count, now=now
    )
    if refusal is not None:
        raise ServiceError.one(ErrorCode.INVALID_STATE, refusal, "interviewId")
    require_open(found.proposal)

    slot, _ = await claim_slot(
        session, settings, found, start=start, now=now, calendars=calendars
    )
    if slot is None:
        raise ServiceError.one(
            ErrorCode.SLOT_UNAVAILABLE,
            f"{when(start, time_zone)} is not available; the interview stays at "
            f"{when(old.start, time_zone)}",
            "start",
        )
    try:
        # The exclusion constraint is the backstop of the locks taken by claim_slot.
        await session.execute(
            update(SlotReservation)
            .where(SlotReservation.interview_id == interview.id)
            .values(starts_at=slot.start, ends_at=slot.end)
            .execution_options(synchronize_session=False)
        )
    except IntegrityError as exc:
        if _sqlstate(exc) == EXCLUSION_VIOLATION:
            raise _taken(start, old, time_zone) from None
        raise
    interview.booked_start, interview.booked_end = slot.start, slot.end
    interview.move_count += 1
    # The same event with a higher SEQUENCE: calendars update it in place (RFC 5546).
    interview.ical_sequence += 1
    await _tell_moved(session, viewer, found, old, time_zone)
    request_sync(session, interview.id)
    booking_moved(session, interview, old)
    return interview


async def move_options(
    *,
    session: AsyncSession,
    viewer: Viewer,
    settings: Settings,
    interview_id: uuid.UUID,
    time_zone: str,
    now: datetime,
) -> Availability:
    """The slots a booking may move to, in the viewer's zone (empty unless it is booked);
    INVALID_STATE when moving is no longer allowed, saying why."""
    tz = zone(time_zone)
    if tz is None:
        raise ServiceError(
            [validation(f"{preview(time_zone)} is not an IANA time zone", "timeZone")]
        )
    found = await interview_for(session, viewer, interview_id)
    interview = found.interview
    if viewer.id != found.proposal.candidate_id:
        require_team(viewer, found.project)
    if interview.status is not InterviewStatus.BOOKED or interview.booked_start is None:
        return Availability(days=[], offered=0, free=0)
    refusal = move_refusal(
        rules_of(settings),
        booked_start=interview.booked_start,
        moves_so_far=interview.move_count,
        now=now,
    )
    if refusal is not None:
        raise ServiceError.one(ErrorCode.INVALID_STATE, refusal, "interviewId")
    free, offered, unchecked = await free_slots_of(session, settings, found, now)
    others = [slot for slot in free if slot.start != interview.booked_start]
    return Availability(
        days=group_by_local_date(others, tz),
        offered=offered,
        free=len(free),
        unchecked_calendars=unchecked,
    )


def _taken(start: datetime, old: TimeRange, time_zone: str) -> ServiceError:
    return ServiceError.one(
        ErrorCode.SLOT_UNAVAILABLE,
        f"{when(start, time_zone)} was just taken; the interview stays at "
        f"{when(old.start, time_zone)}",
        "start",
    )


def booking_moved(session: AsyncSession, interview: Interview, old: TimeRange) -> None:
    """Hook for what else a move causes, in the move's transaction.

    Webhooks (issue 16) add their `interview.updated` event here: the interview carries the
    new times, `old` the previous ones.
    """


async def _tell_moved(
    session: AsyncSession,
    viewer: Viewer,
    found: InterviewContext,
    old: TimeRange,
    time_zone: str,
) -> None:
    interview = found.interview
    audience = await load_audience(session, interview, found.proposal, found.project)
    for participant in audience.participants:
        participant.sync_state = SyncState.PENDING
        participant.sync_error = None
    assert interview.booked_start is not None
    who = audience.candidate.name if viewer.id == audience.candidate.id else actor_name(viewer)
    tell(
        session,
        recipients=[
            audience.candidate_r(InviteMethod.REQUEST),
            *audience.team_r(InviteMethod.REQUEST),
            audience.manager_r(),
        ],
        kind=MessageKind.INTERVIEW_MOVED,
        interview=interview,
        message=(
            f"{who} moved the interview (round {interview.round} for {found.project.title}) "
            f"from {when(old.start, time_zone)} to {when(interview.booked_start, time_zone)}. "
            f"Join: {interview.conference_url}"
        ),
        event=Event(actor=actor_of(viewer.user), moved_from=(old.start, old.end)),
    )
