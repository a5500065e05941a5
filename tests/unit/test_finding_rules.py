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


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, object]:
    base = draw(st.sampled_from(BASES)) + draw(st.integers(0, 24 * 60)) * MINUTE
    days = draw(st.integers(1, 2))
    span = days * 24 * 60
    members = []
    for _ in range(draw(st.integers(1, 4))):
        members.append(
            {
                "id": uuid.uuid4(),
                "tz": ZoneInfo(draw(st.sampled_from(ZONES))),
                "hours": draw(hours()),
                "busy": draw(ranges(base, span, 4)),
                "bookings": draw(ranges(base, span, 3)),
                "per_day": draw(st.sampled_from([None, 1, 2])),
                "per_week": draw(st.sampled_from([None, 2, 3])),
            }
        )
    return {
        "start": base,
        "end": base + timedelta(days=days),
        "members": members,
        "candidate": draw(ranges(base, span, 2)),
        "duration": timedelta(minutes=draw(st.sampled_from([15, 30, 45, 60]))),
    }


def _engine(s: dict[str, object]) -> list[Suggestion]:
    members = []
    for m in s["members"]:  # type: ignore[attr-defined]
        limit = LoadLimit(m["id"], m["tz"], m["per_day"], m["per_week"])
        members.append(
            MemberTime(
                user_id=m["id"],
                working=working_ranges(m["hours"], m["tz"], s["start"], s["end"]),  # type: ignore[arg-type]
                busy=[*m["busy"], *m["bookings"]],
                load=LoadBook.of(limit, [b.start for b in m["bookings"]]),
            )
        )
    return suggest_windows(
        members,
        candidate_busy=s["candidate"],  # type: ignore[arg-type]
        start=s["start"],  # type: ignore[arg-type]
        end=s["end"],  # type: ignore[arg-type]
        duration=s["duration"],  # type: ignore[arg-type]
        limit=10_000,
    )


def _reference(s: dict[str, object]) -> list[Suggestion]:
    start: datetime = s["start"]  # type: ignore[assignment]
    end: datetime = s["end"]  # type: ignore[assignment]
    first = start + (-(start - EPOCH)) % QUARTER

    def busy_at(blocks: list[TimeRange], t: datetime) -> bool:
        return any(b.start <= t < b.end for b in blocks)

    def member_free(m: dict[str, object], cell: datetime) -> bool:
        tz: ZoneInfo = m["tz"]  # type: ignore[assignment]
        for k in range(15):
            t = cell + k * MINUTE
            local = t.astimezone(tz)
            minute = local.hour * 60 + local.minute
            hours: list[WeeklyHours] = m["hours"]  # type: ignore[assignment]
            if not any(h.weekday == local.weekday() and h.start <= minute < h.end for h in hours):
                return False
            if busy_at([*m["busy"], *m["bookings"]], t):  # type: ignore[misc]
                return False
        day = cell.astimezone(tz).date()
        bookings: list[TimeRange] = m["bookings"]  # type: ignore[assignment]
        days = Counter(b.start.astimezone(tz).date() for b in bookings)
        weeks = Counter(b.start.astimezone(tz).date().isocalendar()[:2] for b in bookings)
        if m["per_day"] is not None and days[day] >= m["per_day"]:  # type: ignore[operator]
            return False
        return not (
            m["per_week"] is not None and weeks[day.isocalendar()[:2]] >= m["per_week"]  # type: ignore[operator]
        )

    members: list[dict[str, object]] = s["members"]  # type: ignore[assignment]
    everyone = frozenset(m["id"] for m in members)  # type: ignore[misc]
    cells = []
    cell = first
    while cell + QUARTER <= end:
        blocked = any(busy_at(s["candidate"], cell + k * MINUTE) for k in range(15))  # type: ignore[arg-type]
        free = (
            frozenset()
            if blocked
            else frozenset(
                m["id"]
                for m in members
                if member_free(m, cell)  # type: ignore[misc]
            )
        )
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
        if free and run_end - run_start >= s["duration"]:  # type: ignore[operator]
            found.append(Suggestion(TimeRange(run_start, run_end), free, everyone - free))
        index = stop + 1
    found.sort(key=lambda x: (-len(x.free), x.window.start))
    return found


@settings(max_examples=60, deadline=None)
@given(scenarios())
def test_find_times_matches_a_minute_by_minute_reference(scenario: dict[str, object]) -> None:
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
