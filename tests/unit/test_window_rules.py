"""parse_windows as plain rules: every check, its message and field, and a model to agree with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import ErrorCode, ServiceError
from app.scheduling.windows import MIN_WINDOWS, TimeRange, WindowRules, WindowText, parse_windows

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")
RULES = WindowRules(duration=timedelta(minutes=30), now=NOW, max_windows=5, max_days_ahead=10)


def at(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


def text(minutes: int) -> str:
    return at(minutes).strftime("%Y-%m-%dT%H:%M")


def window(start: int, end: int) -> WindowText:
    return WindowText(text(start), text(end))


def problems(windows: list[WindowText], rules: WindowRules = RULES) -> list[tuple[str, str]]:
    with pytest.raises(ServiceError) as caught:
        parse_windows(windows, tz=UTC_ZONE, rules=rules)
    assert all(e.code is ErrorCode.VALIDATION for e in caught.value.errors)
    return [(e.field or "", e.message) for e in caught.value.errors]


def test_time_range_overlap_and_duration() -> None:
    a, b = TimeRange(at(0), at(60)), TimeRange(at(60), at(90))
    assert not a.overlaps(b) and not b.overlaps(a), "touching is not overlapping"
    c = TimeRange(at(59), at(61))
    assert a.overlaps(c) and c.overlaps(a) and b.overlaps(c)
    assert a.duration == timedelta(hours=1)


def test_good_windows_come_back_sorted_in_utc() -> None:
    parsed = parse_windows(
        [window(300, 400), window(60, 120), WindowText(text(500) + "+01:00", text(600) + "+01:00")],
        tz=UTC_ZONE,
        rules=RULES,
    )
    assert parsed == [
        TimeRange(at(60), at(120)),
        TimeRange(at(300), at(400)),
        TimeRange(at(440), at(540)),  # given at +01:00: an hour earlier in UTC
    ]
    assert all(w.start.tzinfo is UTC for w in parsed)


def test_each_rule_names_its_field_and_says_why() -> None:
    assert problems([window(60, 120)]) == [
        ("windows", f"give at least {MIN_WINDOWS} availability windows")
    ]
    assert problems([window(60 * i, 60 * i + 30) for i in range(1, 7)]) == [
        ("windows", "give at most 5 availability windows")
    ]
    assert problems([window(120, 60), window(200, 300)]) == [
        ("windows.0.end", "the window ends before it starts")
    ]
    assert problems([window(120, 120), window(200, 300)]) == [
        ("windows.0.end", "the window ends before it starts")
    ]
    assert problems([window(60, 89), window(200, 300)]) == [
        ("windows.0.end", "the window is shorter than the 30-minute interview")
    ]
    assert problems([window(-1, 60), window(200, 300)]) == [
        ("windows.0.start", "the window starts in the past")
    ]
    horizon = 10 * 24 * 60
    assert problems([window(60, 120), window(horizon - 30, horizon + 1)]) == [
        ("windows.1.end", "the window ends more than 10 days ahead")
    ]
    assert problems([window(60, 120), window(90, 150)]) == [
        ("windows.1.start", "the window overlaps window 0")
    ]
    assert problems([WindowText("tomorrow", text(60)), window(200, 300)])[0][0] == (
        "windows.0.start"
    )
    assert problems([WindowText(text(60), "later"), window(200, 300)])[0][0] == "windows.0.end"


def test_the_edges_are_allowed() -> None:
    horizon = 10 * 24 * 60
    parsed = parse_windows(
        [window(0, 30), window(30, 60), window(horizon - 30, horizon)], tz=UTC_ZONE, rules=RULES
    )
    assert [w.start for w in parsed] == [at(0), at(30), at(horizon - 30)]


def test_every_problem_is_reported_at_once_with_a_custom_field_name() -> None:
    with pytest.raises(ServiceError) as caught:
        parse_windows([window(120, 60), window(-5, 60)], tz=UTC_ZONE, rules=RULES, field="times")
    assert [e.field for e in caught.value.errors] == ["times.0.end", "times.1.start"]
    with pytest.raises(ServiceError) as caught:
        parse_windows([window(120, 60)], tz=UTC_ZONE, rules=RULES)
    assert [e.field for e in caught.value.errors] == ["windows", "windows.0.end"]


def test_an_overlap_is_found_with_a_window_that_is_not_the_previous_one() -> None:
    # 0 reaches furthest; 1 sits inside 0; 2 starts after 1 ends but inside 0.
    assert [f for f, _ in problems([window(60, 600), window(100, 200), window(300, 400)])] == [
        "windows.1.start",
        "windows.2.start",
    ]
    messages = problems([window(60, 600), window(100, 200), window(300, 400)])
    assert messages[1] == ("windows.2.start", "the window overlaps window 0")


def test_the_defaults_allow_fifty_windows_within_ninety_days() -> None:
    rules = WindowRules(duration=timedelta(minutes=30), now=NOW)
    assert (rules.max_windows, rules.max_days_ahead) == (50, 90)
    fifty = [window(60 * i, 60 * i + 30) for i in range(1, 51)]
    assert len(parse_windows(fifty, tz=UTC_ZONE, rules=rules)) == 50
    assert problems([*fifty, window(60 * 60, 60 * 60 + 30)], rules) == [
        ("windows", "give at most 50 availability windows")
    ]
    far = 90 * 24 * 60
    assert len(parse_windows([window(60, 90), window(far - 30, far)], tz=UTC_ZONE, rules=rules))
    assert problems([window(60, 90), window(far - 30, far + 1)], rules)[0][0] == "windows.1.end"


# -- a model of the rules, checked against parse_windows on any list of windows --------------

spans = st.tuples(st.integers(-120, 16000), st.integers(-60, 600))


def expected_fields(windows: list[tuple[int, int]], rules: WindowRules) -> list[str]:
    """What the rules say, written plainly: one field per problem, in order."""
    if len(windows) > rules.max_windows:
        return ["windows"] + (["windows"] if len(windows) < MIN_WINDOWS else [])
    fields = ["windows"] if len(windows) < MIN_WINDOWS else []
    horizon = rules.max_days_ahead * 24 * 60
    duration = int(rules.duration.total_seconds() // 60)
    good: list[tuple[int, int, int]] = []
    for index, (start, length) in enumerate(windows):
        end = start + length
        if end <= start or end - start < duration:
            fields.append(f"windows.{index}.end")
        elif start < 0:
            fields.append(f"windows.{index}.start")
        elif end > horizon:
            fields.append(f"windows.{index}.end")
        else:
            good.append((start, end, index))
    taken: list[tuple[int, int]] = []
    for start, end, index in sorted(good):
        if any(s < end and start < e for s, e in taken):
            fields.append(f"windows.{index}.start")
        taken.append((start, end))
    return fields


@settings(max_examples=300, deadline=None)
@given(windows=st.lists(spans, max_size=7), duration=st.sampled_from([15, 30, 45, 60, 240]))
def test_parse_windows_agrees_with_the_model(windows: list[tuple[int, int]], duration: int) -> None:
    rules = WindowRules(duration=timedelta(minutes=duration), now=NOW, max_windows=6)
    texts = [window(start, start + length) for start, length in windows]
    expected = expected_fields(windows, rules)
    if not expected:
        parsed = parse_windows(texts, tz=UTC_ZONE, rules=rules)
        assert parsed == sorted(TimeRange(at(s), at(s + n)) for s, n in windows)
        return
    with pytest.raises(ServiceError) as caught:
        parse_windows(texts, tz=UTC_ZONE, rules=rules)
    assert sorted(e.field or "" for e in caught.value.errors) == sorted(expected)


def test_wall_clock_times_are_read_in_the_teams_zone() -> None:
    new_york = ZoneInfo("America/New_York")  # EST, UTC-5, on 2 March 2026
    parsed = parse_windows(
        [
            WindowText("2026-03-03T09:00", "2026-03-03T10:00"),
            WindowText("2026-03-03T11:00", "2026-03-03T12:00"),
        ],
        tz=new_york,
        rules=RULES,
    )
    assert parsed[0] == TimeRange(
        datetime(2026, 3, 3, 14, 0, tzinfo=UTC), datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
    )
    with pytest.raises(ServiceError) as caught:
        parse_windows(
            [WindowText("2026-03-08T02:30", "2026-03-08T04:00"), window(200, 300)],
            tz=new_york,
            rules=RULES,
        )
    [error] = caught.value.errors
    assert (error.field, error.message) == (
        "windows.0.start",
        "2026-03-08 02:30 does not exist in America/New_York: clocks skip it for daylight "
        "saving time",
    )


def test_a_bad_window_does_not_hide_the_problems_of_the_next_ones() -> None:
    bad = {
        "unreadable": WindowText("soon", text(60)),
        "backwards": window(120, 60),
        "short": window(60, 70),
        "past": window(-30, 60),
        "too far": window(60, 10 * 24 * 60 + 5),
    }
    for what, first in bad.items():
        fields = [
            f for f, _ in problems([first, window(200, 100), window(900, 1000), window(950, 1100)])
        ]
        assert fields[1:] == ["windows.1.end", "windows.3.start"], what


def test_an_overlap_names_the_window_reaching_furthest_first_listed() -> None:
    # 0 and 1 end together; 2 overlaps both and is reported against 0, the first of them.
    found = problems([window(60, 600), window(100, 600), window(300, 400)])
    assert found == [
        ("windows.1.start", "the window overlaps window 0"),
        ("windows.2.start", "the window overlaps window 0"),
    ]
