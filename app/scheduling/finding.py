"""Find times: the windows a chosen set of members could offer, ranked. Pure functions.

The horizon is cut into cells of `STEP` (15 minutes, on the UTC grid: every zone's offset
is a multiple of 15 minutes, so the cells fall on local quarter hours too, :30 and :45
zones included). A member is free in a cell when the whole cell is inside their working
hours, overlaps none of their busy time (Roundtable bookings and connected calendars), and
one more interview that day and week stays within their load limits. The candidate's own
bookings block a cell for everyone.

A suggested window is a longest run of cells with the same non-empty set of free members,
at least the interview's duration long. Ranked by how many members are free, then soonest.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from app.scheduling.load import LoadBook
from app.scheduling.slots import merge
from app.scheduling.windows import TimeRange

STEP = timedelta(minutes=15)


@dataclass(frozen=True)
class MemberTime:
    """What find times knows of one member over the horizon."""

    user_id: uuid.UUID
    working: Sequence[TimeRange]
    busy: Sequence[TimeRange]
    load: LoadBook | None = None


@dataclass(frozen=True)
class Suggestion:
    window: TimeRange
    free: frozenset[uuid.UUID]
    busy: frozenset[uuid.UUID] = field(default_factory=frozenset)


def align_up(instant: datetime, step: timedelta = STEP) -> datetime:
    """The first grid point (UTC multiples of `step`) at or after `instant`."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    steps = -((epoch - instant) // step)  # ceiling division
    return epoch + steps * step


def _cells(start: datetime, end: datetime) -> list[datetime]:
    cells = []
    cell = align_up(start)
    while cell + STEP <= end:
        cells.append(cell)
        cell += STEP
    return cells


def _index_floor(origin: datetime, instant: datetime) -> int:
    return (instant - origin) // STEP


def _index_ceil(origin: datetime, instant: datetime) -> int:
    return -((origin - instant) // STEP)


def _inside(origin: datetime, count: int, ranges: Iterable[TimeRange]) -> list[bool]:
    """Cells wholly inside the union of `ranges`."""
    mask = [False] * count
    for r in merge(ranges):
        first, last = max(_index_ceil(origin, r.start), 0), min(_index_floor(origin, r.end), count)
        for index in range(first, last):
            mask[index] = True
    return mask


def _touched(origin: datetime, count: int, ranges: Iterable[TimeRange]) -> list[bool]:
    """Cells overlapping any of `ranges`."""
    mask = [False] * count
    for r in merge(ranges):
        first, last = max(_index_floor(origin, r.start), 0), min(_index_ceil(origin, r.end), count)
        for index in range(first, last):
            mask[index] = True
    return mask


def free_cells(member: MemberTime, cells: Sequence[datetime]) -> list[bool]:
    if not cells:
        return []
    origin, count = cells[0], len(cells)
    working = _inside(origin, count, member.working)
    busy = _touched(origin, count, member.busy)
    load = member.load
    return [
        working[i] and not busy[i] and (load is None or load.exceeded_by(cells[i]) is None)
        for i in range(count)
    ]


def suggest_windows(
    members: Sequence[MemberTime],
    *,
    candidate_busy: Iterable[TimeRange],
    start: datetime,
    end: datetime,
    duration: timedelta,
    limit: int,
) -> list[Suggestion]:
    """The ranked windows of [start, end) at least `duration` long (see the module's note)."""
    cells = _cells(start, end)
    if not cells or not members:
        return []
    blocked = _touched(cells[0], len(cells), candidate_busy)
    masks = [(m.user_id, free_cells(m, cells)) for m in members]
    everyone = frozenset(m.user_id for m in members)
    runs: list[Suggestion] = []
    run_start: datetime | None = None
    run_free: frozenset[uuid.UUID] = frozenset()

    def close(at: datetime) -> None:
        if run_start is not None and run_free and at - run_start >= duration:
            runs.append(Suggestion(TimeRange(run_start, at), run_free, everyone - run_free))

    previous_end: datetime | None = None
    for index, cell in enumerate(cells):
        free = frozenset() if blocked[index] else frozenset(u for u, mask in masks if mask[index])
        if free != run_free or previous_end != cell:
            close(previous_end or cell)
            run_start, run_free = cell, free
        previous_end = cell + STEP
    if previous_end is not None:
        close(previous_end)
    runs.sort(key=lambda s: (-len(s.free), s.window.start))
    return runs[:limit]
