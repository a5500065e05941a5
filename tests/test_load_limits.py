"""Interviewer load limits and working hours as set through the API, and what they change."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Interview
from app.scheduling.windows import WindowText
from tests.conftest import Clock, GraphQLClient
from tests.factories import World, another_candidate, book_first_slot, make_interview, make_world

PREFS = """mutation($input: SchedulingPreferencesInput!) { updateSchedulingPreferences(input: $input) {
  user { id scheduling { maxInterviewsPerDay maxInterviewsPerWeek workingHoursSet
                         workingHours { weekday start end } } }
  errors { code field message } } }"""
ORG = """mutation($input: OrganizationLoadLimitsInput!) { updateOrganizationLoadLimits(input: $input) {
  organization { id maxInterviewsPerDay maxInterviewsPerWeek } errors { code field } } }"""
SLOTS = """query($id: ID!) { availableSlots(interviewId: $id, timeZone: "UTC") {
  days { slots { start } } warning } }"""
BOOK = """mutation($input: BookInterviewInput!) { bookInterview(input: $input) {
  interview { status } errors { code field } } }"""
MOVE = """mutation($input: MoveBookingInput!) { moveBooking(input: $input) {
  interview { bookedStart } errors { code field } } }"""
ME = "{ me { scheduling { maxInterviewsPerDay workingHoursSet workingHours { weekday start end } } } }"

THURSDAY = [
    WindowText("2026-03-05T09:00", "2026-03-05T10:00"),
    WindowText("2026-03-06T09:00", "2026-03-06T10:00"),
]


@pytest.fixture
async def world(session: AsyncSession) -> World:
    return await make_world(session)


async def set_limits(
    gql: GraphQLClient, token: str, per_day: int | None, per_week: int | None = None, **more: Any
) -> dict[str, Any]:
    body = await gql(
        PREFS,
        {"input": {"maxInterviewsPerDay": per_day, "maxInterviewsPerWeek": per_week, **more}},
        token=token,
    )
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["updateSchedulingPreferences"]
    return result


async def first_booked(
    session: AsyncSession, settings: Settings, world: World, clock: Clock
) -> Interview:
    """Another candidate books the member on Thursday 09:00 UTC."""
    side = await another_candidate(session, world.a)
    other = await make_interview(
        session, settings, side, clock.now, windows=THURSDAY, time_zone="UTC"
    )
    return await book_first_slot(session, settings, side, other, clock.now)


async def starts(gql: GraphQLClient, world: World, interview: Interview) -> list[str]:
    body = await gql(SLOTS, {"id": str(interview.id)}, token=world.token(world.a.candidate))
    return [s["start"][:16] for d in body["data"]["availableSlots"]["days"] for s in d["slots"]]


async def test_a_member_at_their_daily_limit_is_not_offered_that_day(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    interview = await make_interview(
        session, settings, world.a, clock.now, windows=THURSDAY, time_zone="UTC"
    )
    await first_booked(session, settings, world, clock)
    before = await starts(gql, world, interview)
    assert "2026-03-05T09:30" in before  # no limit yet: only the booked 09:00 is gone
    result = await set_limits(gql, world.token(world.a.member), 1)
    assert result["errors"] == []
    after = await starts(gql, world, interview)
    assert after == ["2026-03-06T09:00", "2026-03-06T09:30"]
    refused = await gql(
        BOOK,
        {
            "input": {
                "interviewId": str(interview.id),
                "start": "2026-03-05T09:30:00Z",
                "timeZone": "UTC",
            }
        },
        token=world.token(world.a.candidate),
    )
    assert refused["data"]["bookInterview"]["errors"] == [
        {"code": "SLOT_UNAVAILABLE", "field": "start"}
    ]


async def test_the_organization_default_applies_until_the_member_sets_their_own(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    interview = await make_interview(
        session, settings, world.a, clock.now, windows=THURSDAY, time_zone="UTC"
    )
    await first_booked(session, settings, world, clock)
    org = await gql(
        ORG,
        {"input": {"organizationId": str(world.a.organization.id), "maxInterviewsPerWeek": 1}},
        token=world.token(world.a.colleague),
    )
    assert org["data"]["updateOrganizationLoadLimits"]["organization"]["maxInterviewsPerWeek"] == 1
    assert await starts(gql, world, interview) == []  # the whole week is full
    await set_limits(gql, world.token(world.a.member), None, 5)
    assert len(await starts(gql, world, interview)) == 3


async def test_moving_into_a_day_at_the_limit_is_refused(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    interview = await make_interview(
        session,
        settings,
        world.a,
        clock.now,
        time_zone="UTC",
        windows=[WindowText("2026-03-05T11:00", "2026-03-05T12:00"), THURSDAY[1]],
    )
    await book_first_slot(session, settings, world.a, interview, clock.now)  # Thursday 11:00
    await first_booked(session, settings, world, clock)  # Thursday 09:00
    await set_limits(gql, world.token(world.a.member), 2)
    base = {"interviewId": str(interview.id), "timeZone": "UTC"}
    token = world.token(world.a.candidate)
    # Within Thursday: its own booking does not count against it.
    same_day = await gql(MOVE, {"input": {**base, "start": "2026-03-05T11:30:00Z"}}, token=token)
    assert same_day["data"]["moveBooking"]["errors"] == []
    await set_limits(gql, world.token(world.a.member), 1)
    stay = await gql(MOVE, {"input": {**base, "start": "2026-03-05T11:00:00Z"}}, token=token)
    assert stay["data"]["moveBooking"]["errors"] == [{"code": "SLOT_UNAVAILABLE", "field": "start"}]


async def test_limits_and_hours_are_validated(gql: GraphQLClient, world: World) -> None:
    bad = await set_limits(gql, world.token(world.a.member), 0, 101)
    assert [(e["code"], e["field"]) for e in bad["errors"]] == [
        ("VALIDATION", "maxInterviewsPerDay"),
        ("VALIDATION", "maxInterviewsPerWeek"),
    ]
    hours = await set_limits(
        gql,
        world.token(world.a.member),
        None,
        workingHours=[{"weekday": "MONDAY", "start": "18:00", "end": "09:00"}],
    )
    assert [e["field"] for e in hours["errors"]] == ["workingHours.0.end"]
    me = await gql(ME, token=world.token(world.a.member))
    assert me["data"]["me"]["scheduling"]["workingHoursSet"] is False


async def test_working_hours_are_kept_and_shown(gql: GraphQLClient, world: World) -> None:
    result = await set_limits(
        gql,
        world.token(world.a.member),
        3,
        workingHours=[{"weekday": "SATURDAY", "start": "10:00", "end": "14:30"}],
    )
    assert result["errors"] == []
    scheduling = result["user"]["scheduling"]
    assert scheduling["workingHours"] == [{"weekday": "SATURDAY", "start": "10:00", "end": "14:30"}]
    assert (scheduling["maxInterviewsPerDay"], scheduling["workingHoursSet"]) == (3, True)
    reset = await set_limits(gql, world.token(world.a.member), None)
    assert len(reset["user"]["scheduling"]["workingHours"]) == 5  # back to the default week


async def test_who_may_set_limits(gql: GraphQLClient, world: World) -> None:
    member = str(world.a.member.id)
    by_colleague = await set_limits(gql, world.token(world.a.colleague), 2, userId=member)
    assert [e["code"] for e in by_colleague["errors"]] == ["FORBIDDEN"]
    by_manager = await set_limits(gql, world.token(world.a.manager), 2, userId=member)
    assert by_manager["errors"] == []
    by_other_team = await set_limits(gql, world.token(world.b.member), 2, userId=member)
    assert [e["code"] for e in by_other_team["errors"]] == ["NOT_FOUND"]
    candidate = await set_limits(gql, world.token(world.a.candidate), 2)
    assert [e["code"] for e in candidate["errors"]] == ["INVALID_STATE"]
    org = await gql(
        ORG,
        {"input": {"organizationId": str(world.a.organization.id), "maxInterviewsPerDay": 2}},
        token=world.token(world.b.member),
    )
    assert [e["code"] for e in org["data"]["updateOrganizationLoadLimits"]["errors"]] == [
        "NOT_FOUND"
    ]


EXPLAIN = """query($id: ID!) { slotExplanations(interviewId: $id) {
  start offered reasons { code participant { id name } } } }"""
SUGGEST = """query($proposal: ID!, $people: [ID!]!) {
  suggestWindows(proposalId: $proposal, participantIds: $people, days: 28) {
    start freeParticipants { id name } uncheckedParticipants { id } } }"""


async def test_explanations_and_find_times_take_a_fixed_number_of_statements(
    gql: GraphQLClient,
    world: World,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    count_queries: Any,
) -> None:
    a = world.a
    token = world.token(a.member)
    assert "errors" not in await gql("{ me { id } }", token=token)  # the token's last use
    await first_booked(session, settings, world, clock)
    a.member.max_interviews_per_day = 3  # so the bookings are read for the limits too
    small = await make_interview(session, settings, a, clock.now, windows=THURSDAY, time_zone="UTC")
    counts = []
    for interview in (small,):
        with count_queries() as counter:
            body = await gql(EXPLAIN, {"id": str(interview.id)}, token=token)
        assert "errors" not in body and len(body["data"]["slotExplanations"]) == 4
        counts.append(counter.count)
    side = await another_candidate(session, a)
    days = [f"2026-03-{day:02d}" for day in range(3, 21)]
    large = await make_interview(
        session,
        settings,
        side,
        clock.now,
        time_zone="UTC",
        participants=[a.member, a.colleague],
        windows=[WindowText(f"{d}T09:00", f"{d}T12:00") for d in days],
    )
    with count_queries() as counter:
        body = await gql(EXPLAIN, {"id": str(large.id)}, token=token)
    assert len(body["data"]["slotExplanations"]) == 6 * len(days)
    counts.append(counter.count)
    assert counts[0] == counts[1], counts
    suggest = []
    for people in ([a.member], [a.member, a.colleague]):
        with count_queries() as counter:
            body = await gql(
                SUGGEST,
                {"proposal": str(a.proposal.id), "people": [str(p.id) for p in people]},
                token=token,
            )
        assert body["data"]["suggestWindows"], body
        suggest.append(counter.count)
    assert suggest[0] == suggest[1] <= 8, suggest
