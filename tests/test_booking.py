"""Booking, asking for other times, cancelling and rescheduling a booked interview."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Interview, InterviewStatus, Notification, OutboxMessage, SlotReservation
from app.people import service as people
from app.scheduling.windows import WindowText
from tests.conftest import Clock, GraphQLClient
from tests.factories import World, make_interview, make_world

BOOK = """mutation($input: BookInterviewInput!) { bookInterview(input: $input) {
  interview { id status bookedStart bookedEnd conference { url provider } participants { email syncState } }
  errors { code field message } } }"""
CANCEL = """mutation($input: CancelInterviewInput!) { cancelInterview(input: $input) {
  interview { id status } errors { code field message } } }"""
RESCHEDULE = """mutation($input: RescheduleInterviewInput!) { rescheduleInterview(input: $input) {
  interview { id round status windows { start } participants { email kind } } errors { code field message } } }"""
ALTERNATIVE = """mutation($input: AlternativeTimesInput!) { requestAlternativeTimes(input: $input) {
  interview { id status alternativeTimesRequested alternativeTimesMessage } errors { code field } } }"""
APPLICATIONS = "{ myApplications { actionRequired proposal { id } } }"

WINDOWS = [
    WindowText("2026-03-05T09:00", "2026-03-05T10:00"),
    WindowText("2026-03-06T09:00", "2026-03-06T09:30"),
]


@pytest.fixture
async def world(session: AsyncSession) -> World:
    return await make_world(session)


@pytest.fixture
async def interview(
    world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> Interview:
    return await make_interview(
        session,
        settings,
        world.a,
        clock.now,
        windows=WINDOWS,
        time_zone="UTC",
        participants=[world.a.member, world.a.colleague],
        invite_emails=["guest@outside.com"],
    )


async def written(session: AsyncSession) -> dict[str, int]:
    counts = {}
    for model in (SlotReservation, Notification, OutboxMessage):
        counts[model.__name__] = await session.scalar(select(func.count()).select_from(model)) or 0
    await session.commit()
    return counts


async def book(
    gql: GraphQLClient, world: World, interview_id: Any, start: str, who: Any = None
) -> dict[str, Any]:
    body = await gql(
        BOOK,
        {"input": {"interviewId": str(interview_id), "start": start, "timeZone": "Asia/Kolkata"}},
        token=world.token(who or world.a.candidate),
    )
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["bookInterview"]
    return result


async def test_booking_confirms_the_slot_and_tells_everyone(
    gql: GraphQLClient, world: World, interview: Interview, session: AsyncSession
) -> None:
    result = await book(gql, world, interview.id, "2026-03-05T15:00:00+05:30")  # 09:30 UTC
    booked = result["interview"]
    assert result["errors"] == []
    assert (booked["status"], booked["bookedStart"], booked["bookedEnd"]) == (
        "BOOKED",
        "2026-03-05T09:30:00+00:00",
        "2026-03-05T10:00:00+00:00",
    )
    # Without a connected calendar: a Jitsi Meet room on the public server, unguessable.
    assert booked["conference"]["provider"] == "jitsi"
    assert re.fullmatch(
        r"https://meet\.jit\.si/Roundtable-[a-z2-7]{26}", booked["conference"]["url"]
    ), booked["conference"]
    assert {p["syncState"] for p in booked["participants"]} == {"PENDING"}
    mails = list(
        await session.scalars(select(OutboxMessage.payload).where(OutboxMessage.topic == "mail"))
    )
    invites = {m["to"]: m["invite"] for m in mails if m["kind"] == "INTERVIEW_BOOKED"}
    assert invites == {
        world.a.candidate.email: "REQUEST",
        world.a.member.email: "REQUEST",
        world.a.colleague.email: "REQUEST",
        "guest@outside.com": "REQUEST",
        world.a.manager.email: None,
    }
    apps = await gql(APPLICATIONS, token=world.token(world.a.candidate))
    assert apps["data"]["myApplications"][0]["actionRequired"] is False


async def test_booking_the_same_slot_again_returns_the_booking(
    gql: GraphQLClient, world: World, interview: Interview, session: AsyncSession
) -> None:
    first = await book(gql, world, interview.id, "2026-03-05T09:00:00Z")
    before = await written(session)
    again = await book(gql, world, interview.id, "2026-03-05T14:30:00+05:30")
    assert again == first
    assert await written(session) == before
    other = await book(gql, world, interview.id, "2026-03-05T09:30:00Z")
    assert [(e["code"], e["field"]) for e in other["errors"]] == [("INVALID_STATE", "interviewId")]


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        ("2026-03-05T09:15:00Z", "not a slot"),
        ("2026-03-05T10:00:00Z", "outside the windows"),
        ("2026-03-02T13:00:00Z", "within the notice"),
    ],
)
async def test_a_time_not_offered_is_slot_unavailable(
    gql: GraphQLClient,
    world: World,
    interview: Interview,
    session: AsyncSession,
    start: str,
    reason: str,
) -> None:
    before = await written(session)
    result = await book(gql, world, interview.id, start)
    assert [(e["code"], e["field"]) for e in result["errors"]] == [("SLOT_UNAVAILABLE", "start")], (
        reason
    )
    assert "not available" in result["errors"][0]["message"]
    assert await written(session) == before


async def test_a_slot_taken_by_a_members_other_booking_is_unavailable(
    gql: GraphQLClient,
    world: World,
    interview: Interview,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    other = await make_interview(
        session,
        settings,
        world.a,
        clock.now,
        windows=WINDOWS,
        time_zone="UTC",
        participants=[world.a.colleague],
    )
    assert (await book(gql, world, other.id, "2026-03-05T09:00:00Z"))["errors"] == []
    before = await written(session)
    taken = await book(gql, world, interview.id, "2026-03-05T09:00:00Z")
    assert taken["errors"][0]["code"] == "SLOT_UNAVAILABLE"
    assert await written(session) == before


async def test_a_candidate_cannot_book_two_proposals_at_the_same_instant(
    gql: GraphQLClient,
    world: World,
    interview: Interview,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    # The same candidate applies to organization B too; B's team shares nobody with A's.
    second = await people.create_proposal(
        session=session, project_id=world.b.project.id, candidate_id=world.a.candidate.id
    )
    await session.commit()
    side = dataclasses.replace(world.b, proposal=second, candidate=world.a.candidate)
    other = await make_interview(
        session, settings, side, clock.now, windows=WINDOWS, time_zone="UTC"
    )
    assert (await book(gql, world, interview.id, "2026-03-05T09:00:00Z"))["errors"] == []
    before = await written(session)
    taken = await book(gql, world, other.id, "2026-03-05T09:00:00Z")
    assert taken["errors"][0]["code"] == "SLOT_UNAVAILABLE"
    assert await written(session) == before
    assert (await book(gql, world, other.id, "2026-03-05T09:30:00Z"))["errors"] == []


async def test_only_the_candidate_books(
    gql: GraphQLClient, world: World, interview: Interview, session: AsyncSession
) -> None:
    before = await written(session)
    for who, code in [
        (world.a.member, "FORBIDDEN"),
        (world.a.manager, "FORBIDDEN"),
        (world.b.candidate, "NOT_FOUND"),
    ]:
        result = await book(gql, world, interview.id, "2026-03-05T09:00:00Z", who=who)
        assert result["errors"][0]["code"] == code
    assert await written(session) == before


async def test_booking_needs_a_known_time_zone(
    gql: GraphQLClient, world: World, interview: Interview
) -> None:
    body = await gql(
        BOOK,
        {
            "input": {
                "interviewId": str(interview.id),
                "start": "2026-03-05T09:00:00Z",
                "timeZone": "Moon/Base",
            }
        },
        token=world.token(world.a.candidate),
    )
    assert body["data"]["bookInterview"]["errors"][0]["field"] == "timeZone"


async def test_cancelling_a_booking_frees_the_slot_at_once(
    gql: GraphQLClient,
    world: World,
    interview: Interview,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    await book(gql, world, interview.id, "2026-03-05T09:00:00Z")
    other = await make_interview(
        session, settings, world.a, clock.now, windows=WINDOWS, time_zone="UTC"
    )
    assert (await book(gql, world, other.id, "2026-03-05T09:00:00Z"))["errors"][0][
        "code"
    ] == "SLOT_UNAVAILABLE"
    body = await gql(
        CANCEL,
        {"input": {"interviewId": str(interview.id), "reason": "conflict"}},
        token=world.token(world.a.candidate),
    )
    assert body["data"]["cancelInterview"]["interview"]["status"] == "CANCELLED"
    assert (await book(gql, world, other.id, "2026-03-05T09:00:00Z"))["errors"] == []
    mails = list(
        await session.scalars(select(OutboxMessage.payload).where(OutboxMessage.topic == "mail"))
    )
    cancels = {
        m["to"]: (m["invite"], m["sequence"])
        for m in mails
        if m["kind"] == "INTERVIEW_CANCELLED" and m["interview_id"] == str(interview.id)
    }
    assert cancels[world.a.candidate.email] == ("CANCEL", 1)
    assert cancels["guest@outside.com"] == ("CANCEL", 1)
    assert cancels[world.a.manager.email] == (None, 1)


async def test_only_the_team_and_the_candidate_cancel_a_booking(
    gql: GraphQLClient, world: World, interview: Interview, session: AsyncSession
) -> None:
    await book(gql, world, interview.id, "2026-03-05T09:00:00Z")
    before = await written(session)
    # world.a.manager acts for the team it serves (tests/api/test_attention_and_acting.py).
    refused = [
        (world.b.manager, "NOT_FOUND"),
        (world.b.member, "NOT_FOUND"),
        (world.b.candidate, "NOT_FOUND"),
    ]
    for who, code in refused:
        body = await gql(
            CANCEL, {"input": {"interviewId": str(interview.id)}}, token=world.token(who)
        )
        assert body["data"]["cancelInterview"]["errors"][0]["code"] == code, who.email
        moved = await gql(
            RESCHEDULE,
            {
                "input": {
                    "interviewId": str(interview.id),
                    "timeZone": "UTC",
                    "windows": [
                        {"start": "2026-03-09T10:00", "end": "2026-03-09T11:00"},
                        {"start": "2026-03-10T10:00", "end": "2026-03-10T11:00"},
                    ],
                }
            },
            token=world.token(who),
        )
        assert moved["data"]["rescheduleInterview"]["errors"][0]["code"] == code, who.email
    assert await written(session) == before
    status = await session.scalar(
        select(Interview.status).where(Interview.id == interview.id)
    )
    await session.commit()
    assert status == InterviewStatus.BOOKED


async def test_reschedule_cancels_and_requests_new_times_atomically(
    gql: GraphQLClient, world: World, interview: Interview, session: AsyncSession
) -> None:
    await book(gql, world, interview.id, "2026-03-05T09:00:00Z")
    new_windows = [
        {"start": "2026-03-09T10:00", "end": "2026-03-09T11:00"},
        {"start": "2026-03-10T10:00", "end": "2026-03-10T11:00"},
    ]
    bad = await gql(
        RESCHEDULE,
        {
            "input": {
                "interviewId": str(interview.id),
                "timeZone": "Europe/Berlin",
                "windows": new_windows[:1],
            }
        },
        token=world.token(world.a.member),
    )
    assert bad["data"]["rescheduleInterview"]["errors"][0]["field"] == "windows"
    still = await gql(
        "query($id: ID!) { interview(id: $id) { status } }",
        {"id": str(interview.id)},
        token=world.token(world.a.member),
    )
    assert still["data"]["interview"]["status"] == "BOOKED"
    good = await gql(
        RESCHEDULE,
        {
            "input": {
                "interviewId": str(interview.id),
                "timeZone": "Europe/Berlin",
                "windows": new_windows,
                "reason": "panel changed",
            }
        },
        token=world.token(world.a.member),
    )
    new = good["data"]["rescheduleInterview"]["interview"]
    # A reschedule is the same round at other times: it keeps the round's number.
    assert (new["round"], new["status"], new["windows"][0]["start"]) == (
        1,
        "PENDING",
        "2026-03-09T09:00:00+00:00",
    )
    assert {(p["kind"], p["email"]) for p in new["participants"]} == {
        ("MEMBER", world.a.member.email),
        ("MEMBER", world.a.colleague.email),
        ("INVITEE", "guest@outside.com"),
    }
    old = await gql(
        "query($id: ID!) { interview(id: $id) { status cancellation { reason } } }",
        {"id": str(interview.id)},
        token=world.token(world.a.member),
    )
    assert old["data"]["interview"] == {
        "status": "CANCELLED",
        "cancellation": {"reason": "panel changed"},
    }
    assert await session.scalar(select(func.count()).select_from(SlotReservation)) == 0


async def test_the_candidate_can_ask_for_other_times(
    gql: GraphQLClient, world: World, interview: Interview, session: AsyncSession
) -> None:
    forbidden = await gql(
        ALTERNATIVE,
        {"input": {"interviewId": str(interview.id)}},
        token=world.token(world.a.member),
    )
    assert forbidden["data"]["requestAlternativeTimes"]["errors"][0]["code"] == "FORBIDDEN"
    body = await gql(
        ALTERNATIVE,
        {"input": {"interviewId": str(interview.id), "message": "Evenings IST please"}},
        token=world.token(world.a.candidate),
    )
    assert body["data"]["requestAlternativeTimes"]["interview"] == {
        "id": str(interview.id),
        "status": "PENDING",
        "alternativeTimesRequested": True,
        "alternativeTimesMessage": "Evenings IST please",
    }
    for who in (world.a.manager, world.a.member):
        notes = await gql(
            "{ notifications { edges { node { kind message } } } }", token=world.token(who)
        )
        kinds = [e["node"]["kind"] for e in notes["data"]["notifications"]["edges"]]
        assert "ALTERNATIVE_TIMES_REQUESTED" in kinds
    apps = await gql(APPLICATIONS, token=world.token(world.a.candidate))
    assert apps["data"]["myApplications"][0]["actionRequired"] is False
    before = await written(session)
    await gql(
        ALTERNATIVE,
        {"input": {"interviewId": str(interview.id), "message": "Evenings IST please"}},
        token=world.token(world.a.candidate),
    )
    assert await written(session) == before  # the same request twice tells nobody twice


async def test_booked_interviews_move_from_upcoming_to_past(
    gql: GraphQLClient, world: World, interview: Interview, clock: Clock
) -> None:
    from datetime import UTC, datetime

    await book(gql, world, interview.id, "2026-03-05T09:00:00Z")
    group = "query($g: InterviewGroup!) { myInterviews(group: $g) { edges { node { id } } } }"
    token = world.token(world.a.colleague)
    upcoming = await gql(group, {"g": "UPCOMING"}, token=token)
    assert [e["node"]["id"] for e in upcoming["data"]["myInterviews"]["edges"]] == [
        str(interview.id)
    ]
    clock.now = datetime(2026, 3, 5, 9, 31, tzinfo=UTC)
    past = await gql(group, {"g": "PAST"}, token=token)
    assert [e["node"]["id"] for e in past["data"]["myInterviews"]["edges"]] == [str(interview.id)]
