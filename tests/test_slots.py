"""availableSlots: the candidate's dates and slots, notice, conflicts and the warning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.scheduling.slots import free_slots, merge
from app.scheduling.windows import TimeRange, WindowText
from tests.conftest import Clock, GraphQLClient
from tests.factories import World, book_first_slot, make_interview, make_world

SLOTS = """query($id: ID!, $tz: String!) {
  availableSlots(interviewId: $id, timeZone: $tz) { days { date slots { start end } } warning }
}"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
async def world(session: AsyncSession) -> World:
    return await make_world(session)


async def slots(
    gql: GraphQLClient, world: World, interview_id: Any, tz: str, who: Any = None
) -> dict[str, Any]:
    body = await gql(
        SLOTS, {"id": str(interview_id), "tz": tz}, token=world.token(who or world.a.candidate)
    )
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["availableSlots"]
    return result


def test_slots_step_by_the_duration_from_each_window_start() -> None:
    windows = [
        TimeRange(at("2026-03-10T09:00"), at("2026-03-10T10:40")),
        TimeRange(at("2026-03-10T13:10"), at("2026-03-10T13:40")),
    ]
    free, offered = free_slots(
        windows, duration=timedelta(minutes=30), busy=[], earliest_start=at("2026-03-01T00:00")
    )
    assert [s.start.strftime("%H:%M") for s in free] == ["09:00", "09:30", "10:00", "13:10"]
    assert offered == 4


def test_busy_blocks_remove_exactly_the_overlapping_slots() -> None:
    windows = [TimeRange(at("2026-03-10T09:00"), at("2026-03-10T12:00"))]
    busy = [
        TimeRange(at("2026-03-10T09:45"), at("2026-03-10T10:05")),
        TimeRange(at("2026-03-10T08:00"), at("2026-03-10T09:00")),
        TimeRange(at("2026-03-10T11:30"), at("2026-03-10T13:00")),
        TimeRange(at("2026-03-10T09:50"), at("2026-03-10T09:55")),
    ]
    free, _ = free_slots(
        windows, duration=timedelta(minutes=30), busy=busy, earliest_start=at("2026-03-01T00:00")
    )
    assert [s.start.strftime("%H:%M") for s in free] == ["09:00", "10:30", "11:00"]
    assert merge(busy)[1] == TimeRange(at("2026-03-10T09:45"), at("2026-03-10T10:05"))


async def test_team_in_los_angeles_candidate_in_kolkata(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    interview = await make_interview(
        session,
        settings,
        world.a,
        clock.now,
        time_zone="America/Los_Angeles",
        windows=[
            WindowText("2026-03-10T09:00", "2026-03-10T10:00"),
            WindowText("2026-03-10T17:00", "2026-03-10T17:30"),
        ],
    )
    result = await slots(gql, world, interview.id, "Asia/Kolkata")
    assert result == {
        "days": [
            {
                "date": "2026-03-10",
                "slots": [
                    {"start": "2026-03-10T21:30:00+05:30", "end": "2026-03-10T22:00:00+05:30"},
                    {"start": "2026-03-10T22:00:00+05:30", "end": "2026-03-10T22:30:00+05:30"},
                ],
            },
            # 17:00 in Los Angeles is the next morning in Kolkata: the candidate's date counts.
            {
                "date": "2026-03-11",
                "slots": [
                    {"start": "2026-03-11T05:30:00+05:30", "end": "2026-03-11T06:00:00+05:30"}
                ],
            },
        ],
        "warning": None,
    }


async def test_window_across_a_dst_change_offers_real_half_hours(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    interview = await make_interview(
        session,
        settings,
        world.a,
        clock.now,
        time_zone="America/New_York",
        windows=[
            WindowText("2026-03-08T01:00", "2026-03-08T04:00"),
            WindowText("2026-03-09T09:00", "2026-03-09T09:30"),
        ],
    )
    result = await slots(gql, world, interview.id, "America/New_York")
    starts = [s["start"] for s in result["days"][0]["slots"]]
    # 02:00-03:00 never happens that night: two real hours, four slots, no invented hour.
    assert starts == [
        "2026-03-08T01:00:00-05:00",
        "2026-03-08T01:30:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T03:30:00-04:00",
    ]
    in_kathmandu = await slots(gql, world, interview.id, "Asia/Kathmandu")
    assert in_kathmandu["days"][0]["slots"][0]["start"] == "2026-03-08T11:45:00+05:45"


async def test_minimum_notice_hides_slots_starting_too_soon(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    interview = await make_interview(
        session,
        settings,
        world.a,
        clock.now,
        time_zone="UTC",
        windows=[
            WindowText("2026-03-02T13:00", "2026-03-02T15:00"),
            WindowText("2026-03-03T09:00", "2026-03-03T09:30"),
        ],
    )
    clock.now = at("2026-03-02T12:00")  # notice is 2 hours: 14:00 is the first allowed start
    result = await slots(gql, world, interview.id, "UTC")
    assert [s["start"] for s in result["days"][0]["slots"]] == [
        "2026-03-02T14:00:00+00:00",
        "2026-03-02T14:30:00+00:00",
    ]
    assert result["warning"] == "2 of the 5 times the hiring team offered are no longer available."


async def test_slots_overlapping_a_members_other_booking_are_not_offered(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    windows = [
        WindowText("2026-03-05T09:00", "2026-03-05T10:00"),
        WindowText("2026-03-06T09:00", "2026-03-06T09:30"),
    ]
    first = await make_interview(
        session, settings, world.a, clock.now, windows=windows, time_zone="UTC"
    )
    await book_first_slot(session, settings, world.a, first, clock.now)  # member booked 09:00-09:30
    other = await make_interview(
        session, settings, world.a, clock.now, windows=windows, time_zone="UTC"
    )
    result = await slots(gql, world, other.id, "UTC")
    assert [s["start"] for d in result["days"] for s in d["slots"]] == [
        "2026-03-05T09:30:00+00:00",
        "2026-03-06T09:00:00+00:00",
    ]
    assert "1 of the 3" in result["warning"]


async def test_warning_when_nothing_is_left(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    interview = await make_interview(
        session,
        settings,
        world.a,
        clock.now,
        time_zone="UTC",
        windows=[
            WindowText("2026-03-02T13:00", "2026-03-02T13:30"),
            WindowText("2026-03-02T13:30", "2026-03-02T14:00"),
        ],
    )
    result = await slots(gql, world, interview.id, "UTC")
    assert result["days"] == []
    assert result["warning"].startswith("None of the times")


async def test_who_may_ask_for_slots(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    interview = await make_interview(session, settings, world.a, clock.now)
    for allowed in (world.a.candidate, world.a.colleague, world.a.manager, world.admin):
        assert (await slots(gql, world, interview.id, "UTC", who=allowed))["days"]
    for outsider in (world.b.candidate, world.b.member, world.b.manager):
        body = await gql(SLOTS, {"id": str(interview.id), "tz": "UTC"}, token=world.token(outsider))
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    bad_zone = await gql(
        SLOTS,
        {"id": str(interview.id), "tz": "Nowhere/Special"},
        token=world.token(world.a.candidate),
    )
    assert bad_zone["errors"][0]["extensions"] == {"code": "VALIDATION", "field": "timeZone"}
