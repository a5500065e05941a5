"""Slot explanations agree with the candidate's slots, and name each reason's participant."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from app.scheduling.explaining import (
    CalendarState,
    PersonTime,
    Reason,
    ReasonCode,
    explain_slots,
)
from app.scheduling.load import LoadBook, LoadLimit, over_limits
from app.scheduling.slots import free_slots
from app.scheduling.windows import TimeRange

BASE = datetime(2026, 3, 28, 12, tzinfo=UTC)  # the EU change is the next night
MINUTE = timedelta(minutes=1)


@st.composite
def ranges(draw: st.DrawFn, most: int) -> list[TimeRange]:
    found = []
    for _ in range(draw(st.integers(0, most))):
        start = BASE + draw(st.integers(0, 48 * 60)) * MINUTE
        found.append(TimeRange(start, start + draw(st.integers(1, 180)) * MINUTE))
    return found


@st.composite
def windows(draw: st.DrawFn) -> list[TimeRange]:
    found, start = [], BASE
    for _ in range(draw(st.integers(1, 5))):
        start += draw(st.integers(0, 600)) * MINUTE
        end = start + draw(st.integers(30, 300)) * MINUTE
        found.append(TimeRange(start, end))
        start = end
    return found


@settings(max_examples=80, deadline=None)
@given(
    windows(),
    st.lists(
        st.tuples(ranges(3), ranges(3), st.sampled_from([None, 1, 2])), min_size=1, max_size=3
    ),
    ranges(2),
    st.integers(0, 24 * 60),
)
def test_the_offered_slots_are_exactly_the_candidates_slots(
    windows: list[TimeRange],
    members: list[tuple[list[TimeRange], list[TimeRange], int | None]],
    candidate: list[TimeRange],
    notice: int,
) -> None:
    duration = timedelta(minutes=30)
    earliest = BASE + notice * MINUTE
    people, books, busy = [], [], list(candidate)
    for bookings, calendar, per_day in members:
        member = uuid.uuid4()
        book = LoadBook.of(
            LoadLimit(member, ZoneInfo("Europe/Paris"), per_day, None), [b.start for b in bookings]
        )
        books.append(book)
        busy += [*bookings, *calendar]
        people.append(PersonTime(member, bookings, calendar, CalendarState.CHECKED, [], book))
    people.append(PersonTime(uuid.uuid4(), candidate))
    verdicts = explain_slots(windows, duration=duration, people=people, earliest_start=earliest)
    free, offered = free_slots(windows, duration=duration, busy=busy, earliest_start=earliest)
    assert len(verdicts) == offered
    assert [v.slot for v in verdicts if v.offered] == [
        s for s in free if not over_limits(books, s.start)
    ]


def test_each_reason_names_its_participant_and_informative_ones_do_not_block() -> None:
    member, candidate = uuid.uuid4(), uuid.uuid4()
    slot = TimeRange(BASE, BASE + timedelta(minutes=30))
    [verdict] = explain_slots(
        [slot],
        duration=timedelta(minutes=30),
        people=[
            PersonTime(member, calendar=CalendarState.UNCHECKED, working=[]),
            PersonTime(candidate, bookings=[TimeRange(BASE - MINUTE, BASE + MINUTE)]),
        ],
        earliest_start=BASE,
    )
    assert verdict.reasons == [
        Reason(ReasonCode.CALENDAR_UNCHECKED, member),
        Reason(ReasonCode.OUTSIDE_WORKING_HOURS, member),
        Reason(ReasonCode.OTHER_INTERVIEW, candidate),
    ]
    assert [r.blocking for r in verdict.reasons] == [False, False, True]


def test_working_hours_are_explained_on_each_side_of_the_dst_change() -> None:
    from app.scheduling.hours import DEFAULT_HOURS, working_ranges

    member = uuid.uuid4()
    ny = ZoneInfo("America/New_York")
    friday = TimeRange(
        datetime(2026, 3, 6, 13, 30, tzinfo=UTC), datetime(2026, 3, 6, 14, tzinfo=UTC)
    )
    monday = TimeRange(
        datetime(2026, 3, 9, 13, 30, tzinfo=UTC), datetime(2026, 3, 9, 14, tzinfo=UTC)
    )
    working = working_ranges(DEFAULT_HOURS, ny, friday.start, monday.end)
    verdicts = explain_slots(
        [friday, monday],
        duration=timedelta(minutes=30),
        people=[PersonTime(member, calendar=CalendarState.CHECKED, working=working)],
        earliest_start=friday.start,
    )
    # 13:30Z is 08:30 EST on Friday, 09:30 EDT on Monday after the clocks went forward.
    assert [v.reasons for v in verdicts] == [
        [Reason(ReasonCode.OUTSIDE_WORKING_HOURS, member)],
        [],
    ]
    assert all(v.offered for v in verdicts)  # informative only: the team typed these


def test_reasons_name_whose_and_which_interview_and_calendar_states() -> None:
    member, other, candidate = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    first, second = uuid.uuid4(), uuid.uuid4()
    slot = TimeRange(BASE, BASE + timedelta(minutes=30))
    later = TimeRange(BASE + timedelta(hours=1), BASE + timedelta(hours=1, minutes=30))
    verdicts = explain_slots(
        [TimeRange(BASE, later.end)],
        duration=timedelta(minutes=30),
        people=[
            PersonTime(
                member,
                bookings=[later, slot],
                calendar_busy=[slot],
                calendar=CalendarState.CHECKED,
                working=[slot],  # exactly the first slot: inside, edges included
                booking_interviews=[second, first],
            ),
            PersonTime(other, calendar=CalendarState.NONE, working=[TimeRange(BASE, later.end)]),
            PersonTime(candidate),  # the candidate: no calendar and no hours to speak of
        ],
        earliest_start=BASE,
    )
    by_start = {v.slot.start: v.reasons for v in verdicts}
    assert by_start[slot.start] == [
        Reason(ReasonCode.OTHER_INTERVIEW, member, first),
        Reason(ReasonCode.CALENDAR_BUSY, member),
        Reason(ReasonCode.NO_CALENDAR, other),
    ]
    assert by_start[later.start] == [
        Reason(ReasonCode.OTHER_INTERVIEW, member, second),
        Reason(ReasonCode.OUTSIDE_WORKING_HOURS, member),
        Reason(ReasonCode.NO_CALENDAR, other),
    ]


def test_a_limit_names_its_member_and_touching_busy_time_does_not_block() -> None:
    member = uuid.uuid4()
    slot = TimeRange(BASE, BASE + timedelta(minutes=30))
    book = LoadBook.of(LoadLimit(member, ZoneInfo("UTC"), 1, None), [BASE - timedelta(hours=3)])
    [verdict] = explain_slots(
        [slot],
        duration=timedelta(minutes=30),
        people=[
            PersonTime(
                member,
                calendar_busy=[TimeRange(slot.end, slot.end + MINUTE)],
                bookings=[TimeRange(slot.start - MINUTE, slot.start)],
                calendar=CalendarState.CHECKED,
                load=book,
            )
        ],
        earliest_start=BASE,
    )
    assert verdict.reasons == [Reason(ReasonCode.DAILY_LIMIT, member)]
