"""Availability windows as the team enters them: parsing and every rule they must obey."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.errors import FieldError, ServiceError, validation
from app.timezones import LocalTimeError, parse_wall_clock

MIN_WINDOWS = 2


@dataclass(frozen=True)
class WindowText:
    """A window as entered: local wall-clock times, or ISO times with an offset."""

    start: str
    end: str


@dataclass(frozen=True, order=True)
class TimeRange:
    start: datetime
    end: datetime

    def overlaps(self, other: TimeRange) -> bool:
        return self.start < other.end and other.start < self.end

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class WindowRules:
    duration: timedelta
    now: datetime
    max_windows: int = 50
    max_days_ahead: int = 90


def parse_windows(
    windows: Sequence[WindowText], *, tz: ZoneInfo, rules: WindowRules, field: str = "windows"
) -> list[TimeRange]:
    """Parse and check every window; raise one ServiceError listing every problem found."""
    errors: list[FieldError] = []
    if len(windows) < MIN_WINDOWS:
        errors.append(validation(f"give at least {MIN_WINDOWS} availability windows", field))
    if len(windows) > rules.max_windows:
        errors.append(validation(f"give at most {rules.max_windows} availability windows", field))
        raise ServiceError(errors)

    parsed: list[tuple[int, TimeRange]] = []
    latest_end = rules.now + timedelta(days=rules.max_days_ahead)
    for index, window in enumerate(windows):
        prefix = f"{field}.{index}"
        start = _parse(window.start, tz, f"{prefix}.start", errors)
        end = _parse(window.end, tz, f"{prefix}.end", errors)
        if start is None or end is None:
            continue
        if end <= start:
            errors.append(validation("the window ends before it starts", f"{prefix}.end"))
            continue
        if end - start < rules.duration:
            minutes = int(rules.duration.total_seconds() // 60)
            errors.append(
                validation(
                    f"the window is shorter than the {minutes}-minute interview", f"{prefix}.end"
                )
            )
            continue
        if start < rules.now:
            errors.append(validation("the window starts in the past", f"{prefix}.start"))
            continue
        if end > latest_end:
            errors.append(
                validation(
                    f"the window ends more than {rules.max_days_ahead} days ahead", f"{prefix}.end"
                )
            )
            continue
        parsed.append((index, TimeRange(start, end)))

    parsed.sort(key=lambda item: item[1])
    reaching: tuple[int, TimeRange] | None = None  # the window reaching furthest so far
    for index, time_range in parsed:
        if reaching is not None and reaching[1].overlaps(time_range):
            errors.append(
                validation(f"the window overlaps window {reaching[0]}", f"{field}.{index}.start")
            )
        if reaching is None or time_range.end > reaching[1].end:
            reaching = (index, time_range)
    if errors:
        raise ServiceError(errors)
    return [time_range for _, time_range in parsed]


def _parse(value: str, tz: ZoneInfo, field: str, errors: list[FieldError]) -> datetime | None:
    try:
        return parse_wall_clock(value, tz)
    except LocalTimeError as exc:
        errors.append(validation(str(exc), field))
        return None
