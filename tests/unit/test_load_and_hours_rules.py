"""Load limits and working hours as plain rules, in members' own zones, across DST changes."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.errors import ServiceError
from app.scheduling.hours import (
    DEFAULT_HOURS,
    WeeklyHours,
    from_stored,
    local_instant,
    parse_hours,
    stored,
    working_ranges,
)
from app.scheduling.load import LoadBook, LoadLimit, LoadPeriod, effective_limit, over_limits
from app.scheduling.windows import TimeRange

NY = ZoneInfo("America/New_York")
KATHMANDU = ZoneInfo("Asia/Kathmandu")  # +05:45
KOLKATA = ZoneInfo("Asia/Kolkata")  # +05:30


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def limit(tz: ZoneInfo, per_day: int | None, per_week: int | None = None) -> LoadLimit:
    return LoadLimit(uuid.uuid4(), tz, per_day, per_week)


# -- load limits ---------------------------------------------------------------------------


def test_a_members_own_limit_wins_and_each_falls_back_on_its_own() -> None:
    member = uuid.uuid4()
    mixed = effective_limit(user_id=member, time_zone=NY, own=(2, None), organization=(5, 8))
    assert (mixed.per_day, mixed.per_week) == (2, 8)
    unset = effective_limit(
        user_id=member, time_zone=NY, own=(None, None), organization=(None, None)
    )
    assert not unset.limited
    other = effective_limit(user_id=member, time_zone=NY, own=(None, 3), organization=(5, 8))
    assert (other.user_id, other.time_zone, other.per_day, other.per_week) == (member, NY, 5, 3)
    own = effective_limit(user_id=member, time_zone=NY, own=(2, 4), organization=(None, None))
    assert (own.per_day, own.per_week, own.limited) == (2, 4, True)
    assert LoadLimit(member, NY, None, 1).limited


def test_the_daily_limit_counts_the_members_local_day_in_a_45_minute_zone() -> None:
    # 18:00Z is 23:45 in Kathmandu; 18:15Z is already 00:00 the next local day.
    book = LoadBook.of(limit(KATHMANDU, per_day=1), [utc("2026-03-05T18:00")])
    assert book.exceeded_by(utc("2026-03-05T03:00")) is LoadPeriod.DAY  # 08:45 same day
    assert book.exceeded_by(utc("2026-03-05T18:15")) is None  # next local day
    assert book.exceeded_by(utc("2026-03-05T18:14")) is LoadPeriod.DAY


def test_the_weekly_limit_counts_monday_to_sunday_in_the_members_zone() -> None:
    # Sunday 2026-03-08 23:30 in Kolkata is 18:00Z; Monday 00:00 Kolkata is 18:30Z.
    book = LoadBook.of(
        limit(KOLKATA, None, per_week=2), [utc("2026-03-02T04:00"), utc("2026-03-08T18:00")]
    )
    assert book.exceeded_by(utc("2026-03-08T17:59")) is LoadPeriod.WEEK
    assert book.exceeded_by(utc("2026-03-08T18:30")) is None


def test_the_limit_counts_across_a_dst_change_on_local_days() -> None:
    # US clocks go forward 2026-03-08; 23:30 local on the 7th (EST) and 23:30 on the 8th (EDT).
    book = LoadBook.of(limit(NY, per_day=1), [utc("2026-03-08T04:30")])  # 23:30 EST on the 7th
    assert book.exceeded_by(utc("2026-03-07T14:00")) is LoadPeriod.DAY  # 09:00 EST on the 7th
    assert book.exceeded_by(utc("2026-03-08T05:00")) is None  # 00:00 EST on the 8th
    assert book.exceeded_by(utc("2026-03-09T03:30")) is None  # 23:30 EDT on the 8th


def test_a_limit_of_two_allows_a_second_interview_and_refuses_a_third() -> None:
    book = LoadBook.of(limit(NY, per_day=2), [utc("2026-03-05T14:00")])
    assert book.exceeded_by(utc("2026-03-05T16:00")) is None
    book.add(utc("2026-03-05T16:00"))
    assert over_limits([book], utc("2026-03-05T18:00")) == [(book.limit.user_id, LoadPeriod.DAY)]


# -- working hours -------------------------------------------------------------------------


def test_the_default_week_is_nine_to_five_monday_to_friday() -> None:
    ranges = working_ranges(DEFAULT_HOURS, NY, utc("2026-03-02T00:00"), utc("2026-03-09T00:00"))
    assert [(r.start, r.end) for r in ranges][:1] == [
        (utc("2026-03-02T14:00"), utc("2026-03-02T22:00"))
    ]
    assert len(ranges) == 5  # Saturday and Sunday are not working days


def test_nine_to_five_stays_local_across_the_spring_change() -> None:
    ranges = working_ranges(DEFAULT_HOURS, NY, utc("2026-03-06T00:00"), utc("2026-03-10T00:00"))
    assert [r.start for r in ranges] == [utc("2026-03-06T14:00"), utc("2026-03-09T13:00")]
    assert {r.duration for r in ranges} == {timedelta(hours=8)}


def test_half_and_three_quarter_hour_zones() -> None:
    day = (utc("2026-03-02T00:00"), utc("2026-03-03T00:00"))
    assert working_ranges(DEFAULT_HOURS, KOLKATA, *day)[0].start == utc("2026-03-02T03:30")
    assert working_ranges(DEFAULT_HOURS, KATHMANDU, *day)[0].start == utc("2026-03-02T03:15")
    chatham = ZoneInfo("Pacific/Chatham")  # +13:45 in March (daylight time)
    sunday_night = (utc("2026-03-01T00:00"), utc("2026-03-02T00:00"))
    assert working_ranges(DEFAULT_HOURS, chatham, *sunday_night)[0].start == utc("2026-03-01T19:15")


def test_a_start_the_clocks_skip_begins_when_they_jump() -> None:
    # 02:30 does not exist in New York on 2026-03-08: the clock jumps at 07:00Z to 03:00.
    assert local_instant(date(2026, 3, 8), 150, NY, first=True) == utc("2026-03-08T07:00")


def test_a_repeated_time_starts_at_its_first_and_ends_at_its_second_occurrence() -> None:
    # 01:30 happens twice in New York on 2026-11-01: 05:30Z (EDT) and 06:30Z (EST).
    assert local_instant(date(2026, 11, 1), 90, NY, first=True) == utc("2026-11-01T05:30")
    assert local_instant(date(2026, 11, 1), 90, NY, first=False) == utc("2026-11-01T06:30")


def test_hours_to_midnight_end_at_the_next_local_midnight() -> None:
    hours = [WeeklyHours(6, 20 * 60, 24 * 60)]  # Sunday evening
    [sunday] = working_ranges(hours, NY, utc("2026-03-08T00:00"), utc("2026-03-10T00:00"))
    assert (sunday.start, sunday.end) == (utc("2026-03-09T00:00"), utc("2026-03-09T04:00"))


def test_hours_are_parsed_and_kept_as_entered() -> None:
    hours = parse_hours([(0, "08:30", "12:00"), (0, "13:00", "24:00")], "workingHours")
    assert from_stored(stored(hours)) == tuple(hours)
    assert from_stored(None) == DEFAULT_HOURS


@pytest.mark.parametrize(
    ("entries", "field"),
    [
        ([(0, "9:00", "17:00")], "workingHours.0.start"),
        ([(0, "09:00", "25:00")], "workingHours.0.end"),
        ([(0, "17:00", "09:00")], "workingHours.0.end"),
        ([(0, "24:00", "24:00")], "workingHours.0.start"),
        ([(0, "09:00", "12:00"), (0, "11:00", "13:00")], "workingHours"),
    ],
)
def test_bad_hours_are_validation_errors(entries: list[tuple[int, str, str]], field: str) -> None:
    with pytest.raises(ServiceError) as raised:
        parse_hours(entries, "workingHours")
    assert [e.field for e in raised.value.errors] == [field]


@pytest.mark.parametrize(
    ("entries", "fields"),
    [
        ([(7, "09:00", "17:00")], ["workingHours.0.weekday"]),
        ([(0, "09:60", "17:00")], ["workingHours.0.start"]),
        ([(0, "09:00", "17")], ["workingHours.0.end"]),
        (
            [(0, "x9:00", "17:00"), (1, "09:00", "9:00")],
            ["workingHours.0.start", "workingHours.1.end"],
        ),
    ],
)
def test_each_bad_range_is_named(entries: list[tuple[int, str, str]], fields: list[str]) -> None:
    with pytest.raises(ServiceError) as raised:
        parse_hours(entries, "workingHours")
    assert [e.field for e in raised.value.errors] == fields
    assert all(e.message for e in raised.value.errors)


def test_a_whole_week_of_ranges_is_accepted_and_more_are_refused() -> None:
    week = [(d, f"{h:02d}:00", f"{h + 1:02d}:00") for d in range(7) for h in (8, 10, 12)]
    assert len(parse_hours(week, "workingHours")) == 21
    with pytest.raises(ServiceError):
        parse_hours([*week, (0, "20:00", "21:00")], "workingHours")
    back_to_back = parse_hours([(2, "09:00", "12:00"), (2, "12:00", "13:00")], "w")
    assert [h.end for h in back_to_back] == [12 * 60, 13 * 60]


def test_stored_hours_that_are_unreadable_are_left_out() -> None:
    assert from_stored([[0, "09:00", "17:00"], [1, "bad", "17:00"]]) == (WeeklyHours(0, 540, 1020),)


def test_overnight_ranges_of_neighbouring_days_are_found() -> None:
    # Monday 00:00-02:00 in Kolkata is Sunday 18:30-20:30Z.
    hours = [WeeklyHours(0, 0, 120)]
    ranges = working_ranges(hours, KOLKATA, utc("2026-03-08T18:00"), utc("2026-03-08T19:00"))
    assert ranges == [TimeRange(utc("2026-03-08T18:30"), utc("2026-03-08T19:00"))]
    # Sunday 20:00-24:00 in New York (EDT) is Monday 00:00-04:00Z.
    sunday = [WeeklyHours(6, 1200, 1440)]
    west = working_ranges(sunday, NY, utc("2026-03-09T02:00"), utc("2026-03-09T05:00"))
    assert west == [TimeRange(utc("2026-03-09T02:00"), utc("2026-03-09T04:00"))]


def test_ranges_are_clipped_to_the_horizon() -> None:
    ranges = working_ranges(DEFAULT_HOURS, NY, utc("2026-03-02T15:00"), utc("2026-03-02T16:00"))
    assert ranges == [TimeRange(utc("2026-03-02T15:00"), utc("2026-03-02T16:00"))]
