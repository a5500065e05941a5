"""Why a slot of the windows is or is not offered to the candidate. Pure functions.

The blocking reasons are the rules of `availableSlots` (app.scheduling.booking): the
minimum notice, another interview of a participant (member or candidate), busy time in a
member's connected calendar, a member's load limit. The others only inform: a calendar
that could not be read or is not connected (its busy time is unknown), and a slot outside
a member's working hours (typed windows are offered as typed, SPEC section 5).

Another interview is named by whose it is; which one (`Reason.interview`) the caller keeps
only for a viewer who may see it (app.scheduling.insight): the candidate's interview with
another organization is told as "has another interview", and nothing more.
"""

from __future__ import annotations

import enum
import uuid
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.scheduling.load import LoadBook, LoadPeriod
from app.scheduling.slots import merge, slots_in
from app.scheduling.windows import TimeRange


class ReasonCode(enum.StrEnum):
    INSIDE_NOTICE = "INSIDE_NOTICE"
    OTHER_INTERVIEW = "OTHER_INTERVIEW"
    CALENDAR_BUSY = "CALENDAR_BUSY"
    DAILY_LIMIT = "DAILY_LIMIT"
    WEEKLY_LIMIT = "WEEKLY_LIMIT"
    CALENDAR_UNCHECKED = "CALENDAR_UNCHECKED"  # connected, but could not be read
    NO_CALENDAR = "NO_CALENDAR"  # no calendar connected
    OUTSIDE_WORKING_HOURS = "OUTSIDE_WORKING_HOURS"


BLOCKING = frozenset(
    {
        ReasonCode.INSIDE_NOTICE,
        ReasonCode.OTHER_INTERVIEW,
        ReasonCode.CALENDAR_BUSY,
        ReasonCode.DAILY_LIMIT,
        ReasonCode.WEEKLY_LIMIT,
    }
)


class CalendarState(enum.StrEnum):
    CHECKED = "CHECKED"
    UNCHECKED = "UNCHECKED"
    NONE = "NONE"


@dataclass(frozen=True)
class Reason:
    code: ReasonCode
    participant: uuid.UUID | None = None
    # OTHER_INTERVIEW: which interview; the caller keeps it only for viewers who may see it.
    interview: uuid.UUID | None = None

    @property
    def blocking(self) -> bool:
        return self.code in BLOCKING


@dataclass(frozen=True)
class PersonTime:
    """One participant's facts over the windows (the candidate has only bookings)."""

    user_id: uuid.UUID
    bookings: Sequence[TimeRange] = ()
    calendar_busy: Sequence[TimeRange] = ()
    calendar: CalendarState = CalendarState.NONE
    working: Sequence[TimeRange] | None = None  # None: not a member (the candidate)
    load: LoadBook | None = None
    booking_interviews: Sequence[uuid.UUID] = ()  # the interview of each booking, if known


@dataclass(frozen=True)
class SlotVerdict:
    slot: TimeRange
    reasons: list[Reason] = field(default_factory=list)

    @property
    def offered(self) -> bool:
        return not any(reason.blocking for reason in self.reasons)


@dataclass(frozen=True)
class _Sorted:
    """Merged, sorted ranges with their bounds, for lookups by bisection."""

    ranges: list[TimeRange]
    starts: list[datetime]
    ends: list[datetime]

    @classmethod
    def of(cls, ranges: Iterable[TimeRange]) -> _Sorted:
        merged = merge(ranges)
        return cls(merged, [r.start for r in merged], [r.end for r in merged])

    def overlaps(self, slot: TimeRange) -> bool:
        # The first range ending after the slot starts is the only one that can overlap.
        index = bisect_right(self.ends, slot.start)
        return index < len(self.ranges) and self.ranges[index].start < slot.end

    def contains(self, slot: TimeRange) -> bool:
        index = bisect_right(self.starts, slot.start) - 1
        return index >= 0 and slot.end <= self.ranges[index].end


def _interview_at(person: PersonTime, slot: TimeRange) -> uuid.UUID | None:
    for booking, interview in zip(person.bookings, person.booking_interviews, strict=False):
        if booking.overlaps(slot):
            return interview
    return None


_LOAD_CODES = {LoadPeriod.DAY: ReasonCode.DAILY_LIMIT, LoadPeriod.WEEK: ReasonCode.WEEKLY_LIMIT}


def explain_slots(
    windows: Iterable[TimeRange],
    *,
    duration: timedelta,
    people: Sequence[PersonTime],
    earliest_start: datetime,
) -> list[SlotVerdict]:
    """Every slot of the windows with all its reasons, in time order."""
    prepared = [
        (p, _Sorted.of(p.bookings), _Sorted.of(p.calendar_busy), _Sorted.of(p.working or ()))
        for p in people
    ]
    verdicts = []
    for slot in slots_in(windows, duration):
        reasons: list[Reason] = []
        if slot.start < earliest_start:
            reasons.append(Reason(ReasonCode.INSIDE_NOTICE))
        for person, bookings, busy, working in prepared:
            who = person.user_id
            if bookings.overlaps(slot):
                reasons.append(Reason(ReasonCode.OTHER_INTERVIEW, who, _interview_at(person, slot)))
            if busy.overlaps(slot):
                reasons.append(Reason(ReasonCode.CALENDAR_BUSY, who))
            if person.load is not None:
                period = person.load.exceeded_by(slot.start)
                if period is not None:
                    reasons.append(Reason(_LOAD_CODES[period], who))
            if person.calendar is CalendarState.UNCHECKED:
                reasons.append(Reason(ReasonCode.CALENDAR_UNCHECKED, who))
            elif person.calendar is CalendarState.NONE and person.working is not None:
                reasons.append(Reason(ReasonCode.NO_CALENDAR, who))
            if person.working is not None and not working.contains(slot):
                reasons.append(Reason(ReasonCode.OUTSIDE_WORKING_HOURS, who))
        verdicts.append(SlotVerdict(slot, reasons))
    return verdicts


def describe(reason: Reason, name: str | None, calendar: str | None = None) -> str:
    """The reason in plain words; `name` is the participant's, `calendar` their account."""
    who = name or "A participant"
    match reason.code:
        case ReasonCode.INSIDE_NOTICE:
            return "Starts too soon: inside the minimum notice."
        case ReasonCode.OTHER_INTERVIEW:
            return f"{who} has another interview at this time."
        case ReasonCode.CALENDAR_BUSY:
            return f"{who} is busy in their calendar."
        case ReasonCode.DAILY_LIMIT:
            return f"{who} has reached their limit of interviews for the day."
        case ReasonCode.WEEKLY_LIMIT:
            return f"{who} has reached their limit of interviews for the week."
        case ReasonCode.CALENDAR_UNCHECKED:
            account = f" ({calendar})" if calendar else ""
            return f"{who}'s calendar{account} could not be read: their busy time is unknown."
        case ReasonCode.NO_CALENDAR:
            return f"{who} has no connected calendar: their busy time is unknown."
        case ReasonCode.OUTSIDE_WORKING_HOURS:
            return f"Outside {who}'s working hours (offered anyway: the team chose this window)."
