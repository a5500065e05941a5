"""Working hours: each member's weekly hours in their own zone, as UTC ranges.

Used by find times (suggestWindows) and shown by the slot explanations; never applied to
windows the team typed, which stay offered as typed.

Hours are minutes from local midnight (0 to 1440) on a weekday (0 is Monday). At a DST
change the local times are honoured: 09:00-17:00 is 09:00-17:00 on the clock on both sides,
so it is a different UTC range before and after. A start the clocks skip (02:30 on the
night they go forward) begins when the clock first reads a later time; at a repeated hour
a start is its first occurrence and an end its second.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from app.errors import FieldError, ServiceError, validation
from app.scheduling.windows import TimeRange

MINUTES_A_DAY = 24 * 60
MAX_ENTRIES = 21  # three ranges a day


@dataclass(frozen=True, order=True)
class WeeklyHours:
    weekday: int  # 0 Monday ... 6 Sunday
    start: int  # minutes after local midnight
    end: int  # up to 1440 (midnight at the end of the day)


DEFAULT_HOURS: tuple[WeeklyHours, ...] = tuple(
    WeeklyHours(day, 9 * 60, 17 * 60) for day in range(5)
)


def clock_text(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(text: str) -> int | None:
    hours, sep, minutes = text.partition(":")
    if (
        not sep
        or not (hours.isdigit() and minutes.isdigit())
        or (len(hours), len(minutes)) != (2, 2)
    ):
        return None
    value = int(hours) * 60 + int(minutes)
    return value if int(minutes) < 60 and 0 <= value <= MINUTES_A_DAY else None


def parse_hours(entries: Sequence[tuple[int, str, str]], field: str) -> list[WeeklyHours]:
    """Check weekly hours as entered ("09:00", "17:30"); raise listing every problem."""
    errors: list[FieldError] = []
    if len(entries) > MAX_ENTRIES:
        raise ServiceError([validation(f"give at most {MAX_ENTRIES} ranges", field)])
    parsed: list[WeeklyHours] = []
    for index, (weekday, start_text, end_text) in enumerate(entries):
        start, end = _minutes(start_text), _minutes(end_text)
        if start is None or start == MINUTES_A_DAY:
            errors.append(validation("give a time such as 09:00", f"{field}.{index}.start"))
        elif end is None:
            errors.append(validation("give a time such as 17:00, or 24:00", f"{field}.{index}.end"))
        elif end <= start:
            errors.append(validation("the hours end before they start", f"{field}.{index}.end"))
        elif not 0 <= weekday <= 6:
            errors.append(validation("not a day of the week", f"{field}.{index}.weekday"))
        else:
            parsed.append(WeeklyHours(weekday, start, end))
    parsed.sort()
    for before, after in pairwise(parsed):
        if before.weekday == after.weekday and after.start < before.end:
            errors.append(validation("two ranges of one day overlap", field))
    if errors:
        raise ServiceError(errors)
    return parsed


def stored(hours: Iterable[WeeklyHours]) -> list[list[int | str]]:
    return [[h.weekday, clock_text(h.start), clock_text(h.end)] for h in hours]


def from_stored(value: list[list[int | str]] | None) -> tuple[WeeklyHours, ...]:
    """The hours kept on a user row; None (never set) is the default week."""
    if value is None:
        return DEFAULT_HOURS
    result = []
    for weekday, start, end in value:
        start_minutes, end_minutes = _minutes(str(start)), _minutes(str(end))
        if start_minutes is not None and end_minutes is not None:
            result.append(WeeklyHours(int(weekday), start_minutes, end_minutes))
    return tuple(sorted(result))


def local_instant(day: date, minutes: int, tz: ZoneInfo, *, first: bool) -> datetime:
    """The UTC instant the local clock of `tz` reads `minutes` after midnight of `day`.

    `first` picks the earlier of a repeated time (a start), otherwise the later (an end);
    a skipped time resolves to the moment the clock jumps past it.
    """
    wall = datetime.combine(day, time()) + timedelta(minutes=minutes)
    earlier = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    later = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if earlier.astimezone(tz).replace(tzinfo=None) == wall:
        return earlier if first or later.astimezone(tz).replace(tzinfo=None) != wall else later
    # Skipped: walk from the earlier reading to the first instant the clock reads past it.
    instant = min(earlier, later)
    while instant.astimezone(tz).replace(tzinfo=None) < wall:
        instant += timedelta(minutes=1)
    return instant


def working_ranges(
    hours: Iterable[WeeklyHours], tz: ZoneInfo, start: datetime, end: datetime
) -> list[TimeRange]:
    """The member's working time overlapping [start, end), as sorted UTC ranges."""
    by_day: dict[int, list[WeeklyHours]] = {}
    for entry in hours:
        by_day.setdefault(entry.weekday, []).append(entry)
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date() + timedelta(days=1)
    ranges: list[TimeRange] = []
    while day <= last:
        for entry in by_day.get(day.weekday(), []):
            begins = local_instant(day, entry.start, tz, first=True)
            ends = local_instant(day, entry.end, tz, first=False)
            if begins < end and start < ends and begins < ends:
                ranges.append(TimeRange(max(begins, start), min(ends, end)))
        day += timedelta(days=1)
    return sorted(ranges)
