"""Slots: duration-long pieces of the windows, shown in the candidate's own time zone."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.scheduling.windows import TimeRange


def slots_in(windows: Iterable[TimeRange], duration: timedelta) -> Iterator[TimeRange]:
    """Every slot offered: from each window's start, one every `duration`, wholly inside.

    Steps are taken on the UTC time line, so a window across a DST change yields slots
    of real length, never a skipped or doubled hour.
    """
    for window in sorted(windows):
        start = window.start
        while start + duration <= window.end:
            yield TimeRange(start, start + duration)
            start += duration


@dataclass(frozen=True)
class SlotDay:
    date: date
    slots: list[TimeRange]


@dataclass(frozen=True)
class Availability:
    days: list[SlotDay]
    offered: int
    free: int
    unchecked_calendars: list[str] = field(default_factory=list)

    @property
    def warning(self) -> str | None:
        parts = []
        if self.offered and not self.free:
            parts.append(
                "None of the times the hiring team offered is still available. Ask for other "
                "times, or contact your account manager."
            )
        elif self.free < self.offered:
            gone = self.offered - self.free
            parts.append(
                f"{gone} of the {self.offered} times the hiring team offered are no longer "
                "available."
            )
        if self.unchecked_calendars:
            parts.append(
                "These calendars could not be checked, so some times may be busy: "
                + ", ".join(self.unchecked_calendars)
                + "."
            )
        return " ".join(parts) or None


def merge(blocks: Iterable[TimeRange]) -> list[TimeRange]:
    """Sorted, disjoint busy ranges: overlapping or touching blocks become one."""
    merged: list[TimeRange] = []
    for block in sorted(blocks):
        if merged and block.start <= merged[-1].end:
            if block.end > merged[-1].end:
                merged[-1] = TimeRange(merged[-1].start, block.end)
        else:
            merged.append(block)
    return merged


def free_slots(
    windows: Iterable[TimeRange],
    *,
    duration: timedelta,
    busy: Iterable[TimeRange],
    earliest_start: datetime,
) -> tuple[list[TimeRange], int]:
    """The slots still open, and how many were offered in all."""
    offered = list(slots_in(windows, duration))
    blocks = merge(busy)
    ends = [block.end for block in blocks]
    free = []
    for slot in offered:
        if slot.start < earliest_start:
            continue
        # The first busy block ending after the slot starts is the only one that can overlap.
        index = bisect_right(ends, slot.start)
        if index < len(blocks) and blocks[index].start < slot.end:
            continue
        free.append(slot)
    return free, len(offered)


def group_by_local_date(slots: Iterable[TimeRange], tz: ZoneInfo) -> list[SlotDay]:
    days: dict[date, list[TimeRange]] = {}
    for slot in slots:
        days.setdefault(slot.start.astimezone(tz).date(), []).append(slot)
    return [SlotDay(day, sorted(day_slots)) for day, day_slots in sorted(days.items())]
