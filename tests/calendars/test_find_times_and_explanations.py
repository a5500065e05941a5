"""suggestWindows and slotExplanations against connected calendars, bookings, limits, zones."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import CalendarProvider, Interview
from app.people import service
from app.scheduling.windows import WindowText
from tests.calendars.conftest import Fakes
from tests.calendars.test_freebusy import connect
from tests.conftest import Clock, GraphQLClient
from tests.factories import World, another_candidate, book_first_slot, make_interview, make_world

NEW_YORK = ZoneInfo("America/New_York")
EXPLAIN = """query($id: ID!) { slotExplanations(interviewId: $id) {
  start end offered reasons { code blocking message participant { id } interview { id } } } }"""
SLOTS = """query($id: ID!) { availableSlots(interviewId: $id, timeZone: "UTC") {
  days { slots { start } } } }"""
SUGGEST = """query($proposal: ID!, $people: [ID!]!, $days: Int, $duration: Int) {
  suggestWindows(proposalId: $proposal, participantIds: $people, days: $days,
                 durationMinutes: $duration) {
    start end freeParticipants { id } busyParticipants { id } uncheckedParticipants { id } } }"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclasses.dataclass
class Scene:
    world: World
    interview: Interview
    colleagues_other: Interview  # the colleague's interview with another candidate of team A


@pytest.fixture
async def scene(session: AsyncSession, settings: Settings, fakes: Fakes, clock: Clock) -> Scene:
    """Member (New York, Google, busy Thu 15:00-16:00Z, limit 1 a day, booked Fri 18:00Z);
    colleague (New York, no calendar, booked Thu 14:00Z); the candidate booked with another
    organization Thu 16:00Z. The interview's windows: Thu 13:00-17:00Z, Fri 14:00-15:00Z."""
    world = await make_world(session)
    a = world.a
    await connect(session, settings, fakes, a.member, CalendarProvider.GOOGLE)
    await session.commit()
    fakes.google.add_busy(a.member.email, at("2026-03-05T15:00"), at("2026-03-05T16:00"))
    friday_late = [
        WindowText("2026-03-06T18:00", "2026-03-06T18:30"),
        WindowText("2026-03-07T18:00", "2026-03-07T18:30"),
    ]
    other = await another_candidate(session, a)
    booked = await make_interview(
        session, settings, other, clock.now, windows=friday_late, time_zone="UTC"
    )
    await book_first_slot(session, settings, other, booked, clock.now)
    third = await another_candidate(session, a)
    booked = await make_interview(
        session,
        settings,
        third,
        clock.now,
        time_zone="UTC",
        participants=[a.colleague],
        windows=[WindowText("2026-03-05T14:00", "2026-03-05T14:30"), friday_late[1]],
    )
    await book_first_slot(session, settings, third, booked, clock.now)
    colleagues_other = booked
    proposal_b = await service.create_proposal(
        session=session, project_id=world.b.project.id, candidate_id=a.candidate.id
    )
    side_b = dataclasses.replace(world.b, candidate=a.candidate, proposal=proposal_b)
    booked = await make_interview(
        session,
        settings,
        side_b,
        clock.now,
        time_zone="UTC",
        windows=[WindowText("2026-03-05T16:00", "2026-03-05T16:30"), friday_late[1]],
    )
    await book_first_slot(session, settings, side_b, booked, clock.now)
    a.member.max_interviews_per_day = 1
    interview = await make_interview(
        session,
        settings,
        a,
        clock.now,
        time_zone="UTC",
        participants=[a.member, a.colleague],
        windows=[
            WindowText("2026-03-05T13:00", "2026-03-05T17:00"),
            WindowText("2026-03-06T14:00", "2026-03-06T15:00"),
        ],
    )
    await session.commit()
    return Scene(world, interview, colleagues_other)


def _reasons(slot: dict[str, Any], ids: dict[str, str]) -> set[tuple[str, str | None]]:
    return {
        (r["code"], ids.get(r["participant"]["id"]) if r["participant"] else None)
        for r in slot["reasons"]
    }


async def test_every_slot_is_explained_and_offered_as_available_slots_says(
    scene: Scene, gql: GraphQLClient, clock: Clock
) -> None:
    a = scene.world.a
    clock.now = at("2026-03-05T11:30")  # the 13:00Z slot is inside the two hours' notice
    body = await gql(EXPLAIN, {"id": str(scene.interview.id)}, token=scene.world.token(a.manager))
    assert "errors" not in body, body
    slots = body["data"]["slotExplanations"]
    ids = {
        str(a.member.id): "member",
        str(a.colleague.id): "colleague",
        str(a.candidate.id): "candidate",
    }
    by_start = {s["start"][:16]: _reasons(s, ids) for s in slots}
    assert len(slots) == 10
    informative = {("NO_CALENDAR", "colleague")}
    # The manager's zone is Europe/London: UTC in March.
    assert by_start["2026-03-05T13:00"] == informative | {
        ("INSIDE_NOTICE", None),
        ("OUTSIDE_WORKING_HOURS", "member"),  # New York: 09:00 EST is 14:00Z
        ("OUTSIDE_WORKING_HOURS", "colleague"),
    }
    assert by_start["2026-03-05T14:00"] == informative | {("OTHER_INTERVIEW", "colleague")}
    assert by_start["2026-03-05T14:30"] == informative
    assert by_start["2026-03-05T15:30"] == informative | {("CALENDAR_BUSY", "member")}
    assert by_start["2026-03-05T16:00"] == informative | {("OTHER_INTERVIEW", "candidate")}
    assert by_start["2026-03-06T14:30"] == informative | {("DAILY_LIMIT", "member")}
    offered = [s["start"] for s in slots if s["offered"]]
    listed = await gql(SLOTS, {"id": str(scene.interview.id)}, token=scene.world.token(a.candidate))
    assert offered == [
        s["start"] for d in listed["data"]["availableSlots"]["days"] for s in d["slots"]
    ]
    # 13:30 is outside New York's working hours, and offered anyway: the team typed it.
    assert offered == [
        "2026-03-05T13:30:00+00:00",
        "2026-03-05T14:30:00+00:00",
        "2026-03-05T16:30:00+00:00",
    ]
    # The colleague's other interview is the team's own: named. The candidate's is another
    # organization's: nothing of it is told, not even which.
    taken = next(s for s in slots if s["start"].startswith("2026-03-05T14:00"))
    assert [r["interview"] for r in taken["reasons"] if r["code"] == "OTHER_INTERVIEW"] == [
        {"id": str(scene.colleagues_other.id)}
    ]
    text = json.dumps(slots)
    assert "Project B" not in text and scene.world.b.member.name not in text
    other_interview = next(s for s in slots if s["start"].startswith("2026-03-05T16:00"))
    assert [r["message"] for r in other_interview["reasons"] if r["code"] == "OTHER_INTERVIEW"] == [
        f"{a.candidate.name} has another interview at this time."
    ]
    assert [
        r["interview"] for r in other_interview["reasons"] if r["code"] == "OTHER_INTERVIEW"
    ] == [None]


async def test_the_candidate_and_other_teams_cannot_read_explanations(
    scene: Scene, gql: GraphQLClient
) -> None:
    world = scene.world
    variables = {"id": str(scene.interview.id)}
    candidate = await gql(EXPLAIN, variables, token=world.token(world.a.candidate))
    assert candidate["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    other = await gql(EXPLAIN, variables, token=world.token(world.b.member))
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    member = await gql(EXPLAIN, variables, token=world.token(world.a.colleague))
    assert len(member["data"]["slotExplanations"]) == 10


async def test_suggested_windows_respect_calendars_bookings_hours_and_limits(
    scene: Scene, gql: GraphQLClient
) -> None:
    world, a = scene.world, scene.world.a
    body = await gql(
        SUGGEST,
        {
            "proposal": str(a.proposal.id),
            "people": [str(a.member.id), str(a.colleague.id)],
            "days": 7,
        },
        token=world.token(a.colleague),
    )
    assert "errors" not in body, body
    found = body["data"]["suggestWindows"]
    assert found, found
    both = {str(a.member.id), str(a.colleague.id)}
    counts = [len(w["freeParticipants"]) for w in found]
    assert counts == sorted(counts, reverse=True)
    for window in found:
        start, end = datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"])
        free = {p["id"] for p in window["freeParticipants"]}
        assert free | {p["id"] for p in window["busyParticipants"]} == both
        assert end - start >= timedelta(minutes=30)
        assert {p["id"] for p in window["uncheckedParticipants"]} == free & {str(a.colleague.id)}
        assert not (start < at("2026-03-05T16:30") and end > at("2026-03-05T16:00"))  # candidate
        for person in free:  # both work 09:00-17:00 Monday to Friday in New York
            local_start, local_end = start.astimezone(NEW_YORK), end.astimezone(NEW_YORK)
            assert local_start.weekday() < 5 and local_start.date() == local_end.date(), person
            assert (
                "09:00" <= local_start.strftime("%H:%M") and local_end.strftime("%H:%M") <= "17:00"
            )
        if str(a.member.id) in free:
            assert not (start < at("2026-03-05T16:00") and end > at("2026-03-05T15:00"))
            assert not (at("2026-03-06T05:00") <= start < at("2026-03-07T05:00"))  # limit: Friday
        if str(a.colleague.id) in free:
            assert not (start < at("2026-03-05T14:30") and end > at("2026-03-05T14:00"))


async def test_find_times_in_a_45_minute_zone_and_across_the_dst_change(
    scene: Scene, gql: GraphQLClient, session: AsyncSession
) -> None:
    world, a = scene.world, scene.world.a
    a.colleague.time_zone = "Asia/Kathmandu"  # +05:45: 09:00-17:00 is 03:15-11:15Z
    await session.commit()
    body = await gql(
        SUGGEST,
        {
            "proposal": str(a.proposal.id),
            "people": [str(a.member.id), str(a.colleague.id)],
            "days": 10,
        },
        token=world.token(a.member),
    )
    found = body["data"]["suggestWindows"]
    # Times come in the viewer's zone (the member's: New York), each with its offset.
    assert {w["start"][-6:] for w in found} == {"-05:00", "-04:00"}

    def first_starts(who: str) -> dict[str, str]:
        mine = [w for w in found if w["freeParticipants"] == [{"id": who}]]
        starts = sorted(datetime.fromisoformat(w["start"]).astimezone(UTC) for w in mine)
        days: dict[str, str] = {}
        for start in starts:
            days.setdefault(start.date().isoformat(), start.strftime("%H:%M"))
        return days

    colleague = first_starts(str(a.colleague.id))
    assert colleague["2026-03-04"] == "03:15" and colleague["2026-03-10"] == "03:15"
    member = first_starts(str(a.member.id))
    # New York's 09:00 is 14:00Z before the change on Sunday the 8th, 13:00Z after it.
    assert member["2026-03-04"] == "14:00" and member["2026-03-09"] == "13:00"
    assert all(len(w["freeParticipants"]) == 1 for w in found)  # their days never overlap


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"days": 0}, "VALIDATION", "days"),
        ({"duration": 5}, "VALIDATION", "durationMinutes"),
        ({"people": []}, "VALIDATION", "participantIds"),
    ],
)
async def test_bad_find_times_input_is_a_typed_error(
    scene: Scene, gql: GraphQLClient, variables: dict[str, Any], code: str, field: str
) -> None:
    a = scene.world.a
    base = {"proposal": str(a.proposal.id), "people": [str(a.member.id)]}
    body = await gql(SUGGEST, {**base, **variables}, token=scene.world.token(a.member))
    assert (body["errors"][0]["extensions"]["code"], body["errors"][0]["extensions"]["field"]) == (
        code,
        field,
    )


async def test_find_times_is_for_the_team_and_its_own_members(
    scene: Scene, gql: GraphQLClient
) -> None:
    world, a = scene.world, scene.world.a
    outsider = await gql(
        SUGGEST,
        {"proposal": str(a.proposal.id), "people": [str(world.b.member.id)]},
        token=world.token(a.member),
    )
    assert outsider["errors"][0]["extensions"]["field"] == "participantIds.0"
    candidate = await gql(
        SUGGEST,
        {"proposal": str(a.proposal.id), "people": [str(a.member.id)]},
        token=world.token(a.candidate),
    )
    assert candidate["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    other_team = await gql(
        SUGGEST,
        {"proposal": str(a.proposal.id), "people": [str(a.member.id)]},
        token=world.token(world.b.member),
    )
    assert other_team["errors"][0]["extensions"]["code"] == "NOT_FOUND"
