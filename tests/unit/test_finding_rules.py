"""Find times checked against a minute-by-minute brute force on randomised calendars.

The reference reads each member's local clock for every minute (no UTC ranges of working
hours, no masks), counts bookings on local days and weeks, and groups quarter hours by who
is free. Working hours stay between 06:00 and 22:00 here: the zones' DST changes happen at
night, where "the clock reads" and the engine's resolution of skipped and repeated times
(tested in test_load_and_hours_rules.py) cannot differ.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from app.scheduling.finding import MemberTime, Suggestion, suggest_windows
from app.scheduling.hours import WeeklyHours, working_ranges
from app.scheduling.load import LoadBook, LoadLimit
from app.scheduling.windows import TimeRange

MINUTE = timedelta(minutes=1)
QUARTER = timedelta(minutes=15)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Whole, half and three-quarter hour offsets; Lord Howe moves by 30 minutes for DST.
ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
]
# Around the US and EU spring changes and the southern autumn one.
BASES = [
    datetime(2026, 3, 7, tzinfo=UTC),
    datetime(2026, 3, 28, tzinfo=UTC),
    datetime(2026, 4, 4, tzinfo=UTC),
    datetime(2026, 6, 10, tzinfo=UTC),
]


@st.composite
def hours(draw: st.DrawFn) -> list[WeeklyHours]:
    entries = []
    for weekday in range(7):
        if draw(st.booleans()):
            start = draw(st.integers(6 * 12, 20 * 12)) * 5
            end = draw(st.integers(start // 5 + 1, 22 * 12)) * 5
            entries.append(WeeklyHours(weekday, start, end))
    return entries


@st.composite
def ranges(draw: st.DrawFn, base: datetime, span_minutes: int, most: int) -> list[TimeRange]:
    found = []
    for _ in range(draw(st.integers(0, most))):
        start = base + draw(st.integers(-60, span_minutes)) * MINUTE
        found.append(TimeRange(start, start + draw(st.integers(1, 240)) * MINUTE))
    return found


@dataclass(frozen=True)
class Member:
    id: uuid.UUID
    tz: ZoneInfo
    hours: list[WeeklyHours]
    busy: list[TimeRange]
    bookings: list[TimeRange]
    per_day: int | None
    per_week: int | None


@dataclass(frozen=True)
class Scenario:
    start: datetime
    end: datetime
    members: list[Member]
    candidate: list[TimeRange]
    duration: timedelta


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    base = draw(st.sampled_from(BASES)) + draw(st.integers(0, 24 * 60)) * MINUTE
    days = draw(st.integers(1, 2))
    span = days * 24 * 60
    members = [
        Member(
            id=uuid.uuid4(),
            tz=ZoneInfo(draw(st.sampled_from(ZONES))),
            hours=draw(hours()),
            busy=draw(ranges(base, span, 4)),
            bookings=draw(ranges(base, span, 3)),
            per_day=draw(st.sampled_from([None, 1, 2])),
            per_week=draw(st.sampled_from([None, 2, 3])),
        )
        for _ in range(draw(st.integers(1, 4)))
    ]
    return Scenario(
        start=base,
        end=base + timedelta(days=days),
        members=members,
        candidate=draw(ranges(base, span, 2)),
        duration=timedelta(minutes=draw(st.sampled_from([15, 30, 45, 60]))),
    )


def _engine(s: Scenario) -> list[Suggestion]:
    members = [
        MemberTime(
            user_id=m.id,
            working=working_ranges(m.hours, m.tz, s.start, s.end),
            busy=[*m.busy, *m.bookings],
            load=LoadBook.of(
                LoadLimit(m.id, m.tz, m.per_day, m.per_week), [b.start for b in m.bookings]
            ),
        )
        for m in s.members
    ]
    return suggest_windows(
        members,
        candidate_busy=s.candidate,
        start=s.start,
        end=s.end,
        duration=s.duration,
        limit=10_000,
    )


def _busy_at(blocks: list[TimeRange], t: datetime) -> bool:
    return any(b.start <= t < b.end for b in blocks)


def _member_free(m: Member, cell: datetime) -> bool:
    """Every minute of the quarter hour read on the member's own clock."""
    for k in range(15):
        t = cell + k * MINUTE
        local = t.astimezone(m.tz)
        minute = local.hour * 60 + local.minute
        if not any(h.weekday == local.weekday() and h.start <= minute < h.end for h in m.hours):
            return False
        if _busy_at([*m.busy, *m.bookings], t):
            return False
    day = cell.astimezone(m.tz).date()
    days = Counter(b.start.astimezone(m.tz).date() for b in m.bookings)
    weeks = Counter(b.start.astimezone(m.tz).date().isocalendar()[:2] for b in m.bookings)
    if m.per_day is not None and days[day] >= m.per_day:
        return False
    return m.per_week is None or weeks[day.isocalendar()[:2]] < m.per_week


def _reference(s: Scenario) -> list[Suggestion]:
    everyone = frozenset(m.id for m in s.members)
    cells: list[tuple[datetime, frozenset[uuid.UUID]]] = []
    cell = s.start + (-(s.start - EPOCH)) % QUARTER
    while cell + QUARTER <= s.end:
        blocked = any(_busy_at(s.candidate, cell + k * MINUTE) for k in range(15))
        free = frozenset(m.id for m in s.members if not blocked and _member_free(m, cell))
        cells.append((cell, free))
        cell += QUARTER
    found = []
    index = 0
    while index < len(cells):
        run_start, free = cells[index]
        stop = index
        while stop + 1 < len(cells) and cells[stop + 1][1] == free:
            stop += 1
        run_end = cells[stop][0] + QUARTER
        if free and run_end - run_start >= s.duration:
            found.append(Suggestion(TimeRange(run_start, run_end), free, everyone - free))
        index = stop + 1
    found.sort(key=lambda x: (-len(x.free), x.window.start))
    return found


@settings(max_examples=60, deadline=None)
@given(scenarios())
def test_find_times_matches_a_minute_by_minute_reference(scenario: Scenario) -> None:
    assert _engine(scenario) == _reference(scenario)


def test_windows_are_ranked_by_free_members_then_soonest() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    day = [TimeRange(start, start + timedelta(hours=8))]
    found = suggest_windows(
        [
            MemberTime(a, day, busy=[]),
            MemberTime(b, day, busy=[TimeRange(start, start + timedelta(hours=2))]),
        ],
        candidate_busy=[],
        start=start,
        end=start + timedelta(hours=8),
        duration=timedelta(minutes=30),
        limit=10,
    )
    assert [(s.window.start.hour, len(s.free)) for s in found] == [(11, 2), (9, 1)]
    assert found[1].busy == frozenset({b})


def test_the_candidates_bookings_block_everyone_and_short_runs_are_dropped() -> None:
    a = uuid.uuid4()
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    found = suggest_windows(
        [MemberTime(a, [TimeRange(start, start + timedelta(hours=2))], busy=[])],
        candidate_busy=[TimeRange(start + timedelta(minutes=15), start + timedelta(minutes=90))],
        start=start,
        end=start + timedelta(hours=2),
        duration=timedelta(minutes=30),
        limit=10,
    )
    assert [(s.window.start.minute, s.window.end.minute) for s in found] == [(30, 0)]


def test_no_window_reaches_past_the_horizon() -> None:
    a = uuid.uuid4()
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    found = suggest_windows(
        [MemberTime(a, [TimeRange(start, start + timedelta(hours=8))], busy=[])],
        candidate_busy=[],
        start=start,
        end=start + timedelta(hours=1, minutes=10),
        duration=timedelta(minutes=30),
        limit=10,
    )
    assert [(s.window.start, s.window.end) for s in found] == [(start, start + timedelta(hours=1))]
