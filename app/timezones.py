"""Time zones at the edges: IANA names in, aware UTC instants inside."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from app.text import preview

_KNOWN_ZONES = frozenset(available_timezones())


# The instants Roundtable accepts; beyond them nothing is scheduled and offsets overflow.
MIN_YEAR = 1970
MAX_YEAR = 2999


class LocalTimeError(ValueError):
    """A wall-clock time that names no instant, or two, in its zone."""


def zone(name: str) -> ZoneInfo | None:
    """The zone for an IANA name, or None when it is not one."""
    if name not in _KNOWN_ZONES:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_wall_clock(value: str, tz: ZoneInfo) -> datetime:
    """Read "2026-12-01T09:00" in `tz`, or an ISO time with an offset as it is; return UTC.

    Raises LocalTimeError for a time skipped by a DST change (it never happens) or repeated
    by one (it happens twice): guessing there shifts the interview by an hour.
    """
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise LocalTimeError(
            f"{preview(value)} is not a date and time such as 2026-12-01T09:00"
        ) from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        # Near year 1 or 9999 a zone's offset overflows the calendar.
        raise LocalTimeError(f"give a date between the years {MIN_YEAR} and {MAX_YEAR}")
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    earlier = parsed.replace(tzinfo=tz, fold=0)
    later = parsed.replace(tzinfo=tz, fold=1)
    if earlier.utcoffset() != later.utcoffset():
        # fold matters only at a transition: a gap if the time does not round-trip.
        round_trip = earlier.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        if round_trip != parsed:
            raise LocalTimeError(
                f"{parsed:%Y-%m-%d %H:%M} does not exist in {tz.key}: clocks skip it for "
                "daylight saving time"
            )
        raise LocalTimeError(
            f"{parsed:%Y-%m-%d %H:%M} happens twice in {tz.key} (clocks go back); give a time "
            "with an offset to say which"
        )
    return earlier.astimezone(UTC)


def to_local(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz)
