"""Slots, busy time and days as plain rules, checked against minute-by-minute references.

Windows are entered in wall-clock time in any IANA zone, on days with and without a DST
change; the reference walks the UTC time line one minute at a time.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.scheduling.slots import (
    Availability,
    SlotDay,
    free_slots,
    group_by_local_date,
    merge,
    slots_in,
)
from app.scheduling.windows import TimeRange
from app.timezones import LocalTimeError, parse_wall_clock

MINUTE = timedelta(minutes=1)
BASE = datetime(2026, 3, 5, 0, 0, tzinfo=UTC)
ZONES = sorted(available_timezones())
# Days with a DST change in many zones (US, EU, southern hemisphere, Chile, Iran's none).
CHANGE_DAYS = [
    date(2026, 3, 8),
    date(2026, 3, 29),
    date(2026, 4, 5),
    date(2026, 9, 6),
    date(2026, 9, 27),
    date(2026, 10, 4),
    date(2026, 10, 25),
    date(2026, 11, 1),
]
# Zones whose changes are unusual: half-hour DST (Lord Howe), :30 and :45 offsets.
ODD_ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Santiago",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Pacific/Chatham",
    "Asia/Kathmandu",
    "Asia/Kolkata",
]
PROPERTY = settings(max_examples=150, deadline=None)


def at(minutes: int) -> datetime:
    return BASE + minutes * MINUTE


def local_instants(wall: datetime, tz: ZoneInfo) -> list[datetime]:
    """Every UTC minute whose wall clock in tz reads `wall`: none in a gap, two in a fold."""
    guess = wall.replace(tzinfo=UTC)
    return [
        u
        for k in range(-15 * 60, 15 * 60 + 1)  # UTC offsets lie within -12 h and +14 h
        if (u := guess + k * MINUTE).astimezone(tz).replace(tzinfo=None) == wall
    ]


def reference_slots(window: TimeRange, duration: int) -> list[TimeRange]:
    """Minute by minute along the window: a slot every `duration` real minutes from its start."""
    slots, minute, elapsed = [], window.start, 0
    while minute < window.end:
        if elapsed % duration == 0 and minute + duration * MINUTE <= window.end:
            slots.append(TimeRange(minute, minute + duration * MINUTE))
        minute += MINUTE
        elapsed += 1
    return slots


@PROPERTY
@given(
    tz_name=st.one_of(st.sampled_from(ODD_ZONES), st.sampled_from(ZONES)),
    day=st.one_of(st.sampled_from(CHANGE_DAYS), st.dates(date(2026, 1, 1), date(2026, 12, 31))),
    start_minute=st.integers(0, 24 * 60 - 1),
    length=st.integers(1, 8 * 60),
    duration=st.sampled_from([15, 20, 30, 45, 60, 90, 240]),
)
def test_slots_of_a_wall_clock_window_match_the_minute_by_minute_reference(
    tz_name: str, day: date, start_minute: int, length: int, duration: int
) -> None:
    tz = ZoneInfo(tz_name)
    wall_start = datetime(day.year, day.month, day.day) + start_minute * MINUTE
    wall_end = wall_start + length * MINUTE
    starts, ends = local_instants(wall_start, tz), local_instants(wall_end, tz)
    for wall, instants in ((wall_start, starts), (wall_end, ends)):
        if len(instants) != 1:  # skipped or repeated by a DST change: refused, never guessed
            with pytest.raises(LocalTimeError):
                parse_wall_clock(wall.isoformat(), tz)
    assume(len(starts) == 1 and len(ends) == 1 and starts[0] < ends[0])
    window = TimeRange(
        parse_wall_clock(wall_start.isoformat(), tz), parse_wall_clock(wall_end.isoformat(), tz)
    )
    assert window == TimeRange(starts[0], ends[0])

    slots = list(slots_in([window], timedelta(minutes=duration)))

    assert slots == reference_slots(window, duration)
    for slot in slots:
        assert slot.duration == timedelta(minutes=duration), "real length, whatever the clocks do"
    days = group_by_local_date(slots, tz)
    expected: dict[date, list[TimeRange]] = {}
    for slot in slots:
        expected.setdefault(slot.start.astimezone(tz).date(), []).append(slot)
    assert days == [SlotDay(d, s) for d, s in sorted(expected.items())]


def test_slots_come_from_every_window_in_order() -> None:
    windows = [TimeRange(at(300), at(360)), TimeRange(at(0), at(70))]
    assert list(slots_in(windows, timedelta(minutes=30))) == [
        TimeRange(at(0), at(30)),
        TimeRange(at(30), at(60)),
        TimeRange(at(300), at(330)),
        TimeRange(at(330), at(360)),
    ]


def test_group_by_local_date_sorts_days_and_their_slots() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")  # +05:30: 18:30 UTC is the next local day
    late, early = TimeRange(at(18 * 60 + 30), at(19 * 60)), TimeRange(at(60), at(90))
    later_same_day = TimeRange(at(19 * 60), at(19 * 60 + 30))
    days = group_by_local_date([later_same_day, late, early], kolkata)
    assert days == [
        SlotDay(date(2026, 3, 5), [early]),
        SlotDay(date(2026, 3, 6), [late, later_same_day]),
    ]


# -- busy time ---------------------------------------------------------------------------

blocks = st.lists(
    st.tuples(st.integers(0, 600), st.integers(1, 120)).map(
        lambda t: TimeRange(at(t[0]), at(t[0] + t[1]))
    ),
    max_size=8,
)


def minutes_of(ranges: list[TimeRange]) -> set[datetime]:
    found: set[datetime] = set()
    for r in ranges:
        minute = r.start
        while minute < r.end:
            found.add(minute)
            minute += MINUTE
    return found


@PROPERTY
@given(busy=blocks)
def test_merge_keeps_every_busy_minute_in_sorted_disjoint_blocks(busy: list[TimeRange]) -> None:
    merged = merge(busy)
    assert minutes_of(merged) == minutes_of(busy)
    for before, after in itertools.pairwise(merged):
        assert before.end < after.start, "overlapping or touching blocks become one"
    assert all(block.start < block.end for block in merged)


def test_merge_joins_touching_and_contained_blocks() -> None:
    assert merge(
        [
            TimeRange(at(50), at(60)),
            TimeRange(at(0), at(30)),
            TimeRange(at(30), at(40)),
            TimeRange(at(5), at(10)),
        ]
    ) == [TimeRange(at(0), at(40)), TimeRange(at(50), at(60))]


@PROPERTY
@given(
    windows=st.lists(
        st.tuples(st.integers(0, 500), st.integers(15, 240)).map(
            lambda t: TimeRange(at(t[0]), at(t[0] + t[1]))
        ),
        min_size=1,
        max_size=3,
    ),
    busy=blocks,
    duration=st.sampled_from([15, 30, 45, 60]),
    notice=st.integers(-10, 300),
)
def test_free_slots_are_the_offered_slots_with_no_busy_minute(
    windows: list[TimeRange], busy: list[TimeRange], duration: int, notice: int
) -> None:
    length = timedelta(minutes=duration)
    free, offered = free_slots(windows, duration=length, busy=busy, earliest_start=at(notice))
    all_slots = [s for w in sorted(windows) for s in reference_slots(w, duration)]
    taken = minutes_of(busy)
    expected = [s for s in all_slots if s.start >= at(notice) and not (minutes_of([s]) & taken)]
    assert offered == len(all_slots)
    assert free == expected


def test_a_busy_block_ending_as_the_slot_starts_leaves_it_free() -> None:
    window = [TimeRange(at(0), at(90))]
    busy = [TimeRange(at(-30), at(0)), TimeRange(at(60), at(61))]
    free, offered = free_slots(
        window, duration=timedelta(minutes=30), busy=busy, earliest_start=at(0)
    )
    assert (free, offered) == ([TimeRange(at(0), at(30)), TimeRange(at(30), at(60))], 3)


# -- what the candidate is told ----------------------------------------------------------


def test_the_warning_says_how_many_times_are_gone_and_which_calendars_were_unchecked() -> None:
    assert Availability(days=[], offered=0, free=0).warning is None
    assert Availability(days=[], offered=4, free=4).warning is None
    assert Availability(days=[], offered=4, free=0).warning == (
        "None of the times the hiring team offered is still available. Ask for other "
        "times, or contact your account manager."
    )
    assert Availability(days=[], offered=4, free=1).warning == (
        "3 of the 4 times the hiring team offered are no longer available."
    )
    assert Availability(
        days=[], offered=4, free=4, unchecked_calendars=["a@x.com (Google)", "b@x.com (Microsoft)"]
    ).warning == (
        "These calendars could not be checked, so some times may be busy: "
        "a@x.com (Google), b@x.com (Microsoft)."
    )
    assert Availability(days=[], offered=2, free=0, unchecked_calendars=["c"]).warning == (
        "None of the times the hiring team offered is still available. Ask for other "
        "times, or contact your account manager. These calendars could not be checked, so "
        "some times may be busy: c."
    )
    assert Availability(days=[], offered=0, free=0).unchecked_calendars == []
