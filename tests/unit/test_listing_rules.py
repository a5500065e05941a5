"""My Interviews' groups and pages as rules: each interview in one group, pages in order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.models import Interview, InterviewStatus
from app.pagination import Cursor
from app.scheduling.listing import InterviewGroup, _after, _group, _ordering, sort_key
from tests.unit.sql_eval import evaluate, sort

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def instant(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


@st.composite
def interviews(draw: st.DrawFn) -> Interview:
    status = draw(st.sampled_from(list(InterviewStatus)))
    booked = status is InterviewStatus.BOOKED or (
        status is InterviewStatus.CANCELLED and draw(st.booleans())
    )
    start = instant(draw(st.integers(0, 20)))
    return Interview(
        id=uuid.UUID(int=draw(st.integers(1, 2**32))),
        status=status,
        requested_at=instant(draw(st.integers(0, 5))),
        booked_start=start if booked else None,
        booked_end=start + timedelta(hours=1) if booked else None,
        cancelled_at=instant(draw(st.integers(0, 5)))
        if status is InterviewStatus.CANCELLED
        else None,
    )


def expected_group(interview: Interview, now: datetime) -> InterviewGroup:
    if interview.status is InterviewStatus.PENDING:
        return InterviewGroup.PENDING
    if interview.status is InterviewStatus.CANCELLED:
        return InterviewGroup.CANCELLED
    assert interview.booked_end is not None
    return InterviewGroup.UPCOMING if interview.booked_end > now else InterviewGroup.PAST


def expected_order(rows: list[Interview], group: InterviewGroup) -> list[Interview]:
    newest_first = group is not InterviewGroup.UPCOMING
    return sorted(rows, key=lambda i: (sort_key(i, group), i.id), reverse=newest_first)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(interviews(), max_size=12, unique_by=lambda i: i.id),
    now_hours=st.integers(0, 22),
    page=st.integers(1, 4),
)
def test_each_interview_is_in_one_group_and_pages_walk_the_group_in_order(
    rows: list[Interview], now_hours: int, page: int
) -> None:
    now = instant(now_hours)
    for group in InterviewGroup:
        condition, order = _group(group, now)
        members = [i for i in rows if evaluate(condition, {"interviews": i})]
        assert members == [i for i in rows if expected_group(i, now) is group], group
        ordered = sort(members, _ordering(order), "interviews")
        assert ordered == expected_order(members, group), group
        # Walking page by page with cursors gives the same list, nothing twice or skipped.
        walked: list[Interview] = []
        while True:
            rest = ordered
            if walked:
                last = walked[-1]
                cursor = Cursor(sort_key(last, group), last.id)
                condition_after = _after(order, cursor)
                rest = [i for i in ordered if evaluate(condition_after, {"interviews": i})]
            if not rest:
                break
            walked.extend(rest[:page])
        assert walked == ordered, group


def test_the_split_between_upcoming_and_past_is_the_end_of_the_interview() -> None:
    booked = Interview(
        id=uuid.uuid4(),
        status=InterviewStatus.BOOKED,
        booked_start=instant(1),
        booked_end=instant(2),
    )
    upcoming, _ = _group(InterviewGroup.UPCOMING, instant(2) - timedelta(microseconds=1))
    assert evaluate(upcoming, {"interviews": booked})
    for at in (instant(2), instant(3)):
        upcoming, _ = _group(InterviewGroup.UPCOMING, at)
        past, _ = _group(InterviewGroup.PAST, at)
        assert not evaluate(upcoming, {"interviews": booked})
        assert evaluate(past, {"interviews": booked})
