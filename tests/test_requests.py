"""The hiring team's side: every rule of a request, edits, cancelling, rounds and hiring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AvailabilityWindow, Interview, Notification, OutboxMessage, Participant
from tests.conftest import Clock, GraphQLClient, new_id
from tests.factories import World, make_world

REQUEST = """mutation($input: RequestInterviewInput!) {
  requestInterview(input: $input) {
    interview { id round status timeZone durationMinutes windows { start end }
                participants { kind email user { id } } }
    errors { code field message }
  }
}"""
UPDATE = """mutation($input: UpdateAvailabilityInput!) {
  updateInterviewAvailability(input: $input) {
    interview { id round status windows { start end } } errors { code field message }
  }
}"""
CANCEL = """mutation($input: CancelInterviewInput!) {
  cancelInterview(input: $input) {
    interview { id status cancellation { reason by { id } } } errors { code field message }
  }
}"""
HIRE = """mutation($id: ID!) {
  hireCandidate(proposalId: $id) { proposal { id status interviews { round status } } errors { code field } }
}"""
GROUP = """query($group: InterviewGroup!) { myInterviews(group: $group) { edges { node { id round } } } }"""

GOOD_WINDOWS = [
    {"start": "2026-03-10T09:00", "end": "2026-03-10T11:00"},
    {"start": "2026-03-11T14:00", "end": "2026-03-11T15:00"},
]


@pytest.fixture
async def world(session: AsyncSession) -> World:
    return await make_world(session)


def request_input(world: World, **overrides: Any) -> dict[str, Any]:
    return {
        "proposalId": str(world.a.proposal.id),
        "timeZone": "America/New_York",
        "windows": GOOD_WINDOWS,
        "participantIds": [str(world.a.member.id)],
        "inviteEmails": [],
        **overrides,
    }


async def written(session: AsyncSession) -> dict[str, int]:
    counts = {}
    for model in (Interview, AvailabilityWindow, Participant, Notification, OutboxMessage):
        counts[model.__name__] = await session.scalar(select(func.count()).select_from(model)) or 0
    await session.commit()
    return counts


async def ask(
    gql: GraphQLClient, world: World, token_user: Any = None, **overrides: Any
) -> dict[str, Any]:
    token = world.token(token_user or world.a.member)
    body = await gql(REQUEST, {"input": request_input(world, **overrides)}, token=token)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["requestInterview"]
    return result


async def assert_rejected(
    gql: GraphQLClient,
    world: World,
    session: AsyncSession,
    code: str,
    field: str,
    token_user: Any = None,
    **overrides: Any,
) -> dict[str, Any]:
    before = await written(session)
    result = await ask(gql, world, token_user, **overrides)
    assert result["interview"] is None
    assert (code, field) in [(e["code"], e["field"]) for e in result["errors"]], result["errors"]
    assert await written(session) == before
    return result


async def test_request_stores_utc_windows_and_round_one(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    result = await ask(gql, world, inviteEmails=["Guest@Outside.com"])
    interview = result["interview"]
    assert result["errors"] == []
    assert interview["round"] == 1 and interview["status"] == "PENDING"
    assert interview["durationMinutes"] == 30
    assert interview["windows"][0] == {
        "start": "2026-03-10T13:00:00+00:00",
        "end": "2026-03-10T15:00:00+00:00",
    }
    kinds = {(p["kind"], p["email"]) for p in interview["participants"]}
    assert kinds == {("MEMBER", world.a.member.email), ("INVITEE", "guest@outside.com")}


async def test_window_with_an_offset_is_taken_as_it_is(gql: GraphQLClient, world: World) -> None:
    windows = [
        {"start": "2026-03-10T09:00+05:30", "end": "2026-03-10T10:00+05:30"},
        {"start": "2026-03-10T12:00Z", "end": "2026-03-10T13:00Z"},
    ]
    result = await ask(gql, world, windows=windows)
    assert [w["start"] for w in result["interview"]["windows"]] == [
        "2026-03-10T03:30:00+00:00",
        "2026-03-10T12:00:00+00:00",
    ]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"timeZone": "Mars/Olympus_Mons"}, "timeZone"),
        (
            {
                "windows": [
                    {"start": "2026-03-10T11:00", "end": "2026-03-10T09:00"},
                    GOOD_WINDOWS[1],
                ]
            },
            "windows.0.end",
        ),
        (
            {
                "windows": [
                    {"start": "2026-03-10T09:00", "end": "2026-03-10T09:20"},
                    GOOD_WINDOWS[1],
                ]
            },
            "windows.0.end",
        ),
        (
            {
                "windows": [
                    {"start": "2026-03-01T09:00", "end": "2026-03-01T10:00"},
                    GOOD_WINDOWS[1],
                ]
            },
            "windows.0.start",
        ),
        (
            {
                "windows": [
                    GOOD_WINDOWS[0],
                    {"start": "2026-06-10T09:00", "end": "2026-06-10T10:00"},
                ]
            },
            "windows.1.end",
        ),
        (
            {
                "windows": [
                    GOOD_WINDOWS[0],
                    {"start": "2026-03-10T10:30", "end": "2026-03-10T12:00"},
                ]
            },
            "windows.1.start",
        ),
        ({"windows": [GOOD_WINDOWS[0]]}, "windows"),
        (
            {
                "windows": [
                    {
                        "start": f"2026-03-{10 + d // 10:02d}T{8 + d % 10:02d}:00",
                        "end": f"2026-03-{10 + d // 10:02d}T{8 + d % 10:02d}:30",
                    }
                    for d in range(51)
                ]
            },
            "windows",
        ),
        (
            {"windows": [{"start": "yesterday", "end": "2026-03-10T10:00"}, GOOD_WINDOWS[1]]},
            "windows.0.start",
        ),
        ({"durationMinutes": 5}, "durationMinutes"),
        ({"durationMinutes": 241}, "durationMinutes"),
        (
            # Starts inside the 90 days (2026-05-31 12:00 UTC), ends outside: the end counts.
            {
                "windows": [
                    GOOD_WINDOWS[0],
                    {"start": "2026-05-31T07:00", "end": "2026-05-31T09:00"},
                ]
            },
            "windows.1.end",
        ),
        ({"inviteEmails": ["not an email"]}, "inviteEmails.0"),
        ({"inviteEmails": ["a@outside.com", "A@outside.com"]}, "inviteEmails.1"),
        ({"participantIds": [new_id()]}, "participantIds.0"),
        ({"participantIds": ["garbage"]}, "participantIds.0"),
    ],
)
async def test_each_rule_is_a_validation_error_naming_the_field(
    gql: GraphQLClient, world: World, session: AsyncSession, overrides: dict[str, Any], field: str
) -> None:
    await assert_rejected(gql, world, session, "VALIDATION", field, **overrides)


async def test_a_member_listed_twice_is_a_validation_error(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    twice = [str(world.a.member.id), str(world.a.colleague.id), str(world.a.member.id)]
    result = await assert_rejected(
        gql, world, session, "VALIDATION", "participantIds.2", participantIds=twice
    )
    assert [e["field"] for e in result["errors"]] == ["participantIds.2"]


async def test_the_duration_bounds_are_inclusive(gql: GraphQLClient, world: World) -> None:
    for minutes in (15, 240):
        windows = [
            {"start": f"2026-03-1{d}T08:00", "end": f"2026-03-1{d}T12:00"} for d in (2, 3)
        ] if minutes == 240 else GOOD_WINDOWS
        result = await ask(gql, world, durationMinutes=minutes, windows=windows)
        assert result["errors"] == [], minutes
        assert result["interview"]["durationMinutes"] == minutes


async def test_a_window_overlapping_a_non_adjacent_one_is_caught(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    windows = [
        {"start": "2026-03-10T09:00", "end": "2026-03-10T12:00"},
        {"start": "2026-03-10T09:30", "end": "2026-03-10T10:00"},
        {"start": "2026-03-10T11:00", "end": "2026-03-10T11:30"},
    ]
    result = await assert_rejected(
        gql, world, session, "VALIDATION", "windows.2.start", windows=windows
    )
    assert "windows.1.start" in [e["field"] for e in result["errors"]]


async def test_participant_from_another_organization_is_refused(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    await assert_rejected(
        gql,
        world,
        session,
        "VALIDATION",
        "participantIds.0",
        participantIds=[str(world.b.member.id)],
    )


async def test_invitee_email_of_a_member_becomes_that_member(
    gql: GraphQLClient, world: World
) -> None:
    result = await ask(
        gql, world, participantIds=[], inviteEmails=[world.a.colleague.email.upper()]
    )
    (participant,) = result["interview"]["participants"]
    assert participant["kind"] == "MEMBER"
    assert participant["user"]["id"] == str(world.a.colleague.id)


async def test_only_the_team_may_request(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    # Account managers act for the teams they serve: tests/api/test_acting_for_teams.py.
    await assert_rejected(
        gql, world, session, "FORBIDDEN", "interviewId", token_user=world.a.candidate
    )


async def test_another_organizations_proposal_reads_as_not_found(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    await assert_rejected(gql, world, session, "NOT_FOUND", "proposalId", token_user=world.b.member)


async def test_rounds_are_numbered_and_editing_keeps_the_round(
    gql: GraphQLClient, world: World, clock: Clock
) -> None:
    rounds = []
    for minute in range(3):
        clock.now = datetime(2026, 3, 2, 12, minute, tzinfo=UTC)
        rounds.append((await ask(gql, world))["interview"])
    assert [r["round"] for r in rounds] == [1, 2, 3]
    new_windows = [
        {"start": "2026-03-12T09:00", "end": "2026-03-12T10:00"},
        {"start": "2026-03-13T09:00", "end": "2026-03-13T10:00"},
        {"start": "2026-03-14T09:00", "end": "2026-03-14T10:00"},
    ]
    body = await gql(
        UPDATE,
        {"input": {"interviewId": rounds[1]["id"], "windows": new_windows}},
        token=world.token(world.a.colleague),
    )
    edited = body["data"]["updateInterviewAvailability"]
    assert edited["errors"] == [] and edited["interview"]["round"] == 2
    assert len(edited["interview"]["windows"]) == 3
    pending = await gql(GROUP, {"group": "PENDING"}, token=world.token(world.a.member))
    assert [e["node"]["round"] for e in pending["data"]["myInterviews"]["edges"]] == [3, 2, 1]


async def test_edit_keeps_the_rules_and_at_least_two_windows(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    interview = (await ask(gql, world))["interview"]
    before = await written(session)
    body = await gql(
        UPDATE,
        {"input": {"interviewId": interview["id"], "windows": GOOD_WINDOWS[:1]}},
        token=world.token(world.a.member),
    )
    assert body["data"]["updateInterviewAvailability"]["errors"][0]["field"] == "windows"
    body = await gql(
        UPDATE,
        {
            "input": {
                "interviewId": interview["id"],
                "windows": [
                    GOOD_WINDOWS[0],
                    {"start": "2026-03-08T02:30", "end": "2026-03-08T04:00"},
                ],
            }
        },
        token=world.token(world.a.member),
    )
    assert body["data"]["updateInterviewAvailability"]["errors"][0]["field"] == "windows.1.start"
    assert await written(session) == before


async def test_edit_tells_participants_only_when_asked(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    interview = (
        await ask(gql, world, participantIds=[str(world.a.member.id), str(world.a.colleague.id)])
    )["interview"]

    async def updates_for(user_id: Any) -> int:
        count = await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.kind == "TIMES_UPDATED")
        )
        await session.commit()
        return count or 0

    for notify, expected in [(False, 0), (True, 1)]:
        body = await gql(
            UPDATE,
            {
                "input": {
                    "interviewId": interview["id"],
                    "windows": GOOD_WINDOWS,
                    "notifyParticipants": notify,
                }
            },
            token=world.token(world.a.member),
        )
        assert body["data"]["updateInterviewAvailability"]["errors"] == []
        assert await updates_for(world.a.colleague.id) == expected
    assert await updates_for(world.a.candidate.id) == 2


async def test_cancelled_interview_cannot_be_edited_and_moves_to_cancelled(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    interview = (await ask(gql, world))["interview"]
    token = world.token(world.a.member)
    body = await gql(
        CANCEL, {"input": {"interviewId": interview["id"], "reason": "role filled"}}, token=token
    )
    cancelled = body["data"]["cancelInterview"]["interview"]
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["cancellation"] == {
        "reason": "role filled",
        "by": {"id": str(world.a.member.id)},
    }
    groups = {g: await gql(GROUP, {"group": g}, token=token) for g in ("PENDING", "CANCELLED")}
    assert groups["PENDING"]["data"]["myInterviews"]["edges"] == []
    assert [e["node"]["id"] for e in groups["CANCELLED"]["data"]["myInterviews"]["edges"]] == [
        interview["id"]
    ]
    before = await written(session)
    body = await gql(
        UPDATE, {"input": {"interviewId": interview["id"], "windows": GOOD_WINDOWS}}, token=token
    )
    assert body["data"]["updateInterviewAvailability"]["errors"][0]["code"] == "INVALID_STATE"
    again = await gql(CANCEL, {"input": {"interviewId": interview["id"]}}, token=token)
    assert again["data"]["cancelInterview"]["errors"][0]["code"] == "INVALID_STATE"
    assert await written(session) == before


async def test_candidate_cannot_cancel_a_pending_request(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    interview = (await ask(gql, world))["interview"]
    before = await written(session)
    body = await gql(
        CANCEL, {"input": {"interviewId": interview["id"]}}, token=world.token(world.a.candidate)
    )
    assert body["data"]["cancelInterview"]["errors"][0]["code"] == "INVALID_STATE"
    assert await written(session) == before


async def test_hire_closes_the_proposal_and_cancels_pending_rounds(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    await ask(gql, world)
    await ask(gql, world)
    body = await gql(HIRE, {"id": str(world.a.proposal.id)}, token=world.token(world.a.member))
    proposal = body["data"]["hireCandidate"]["proposal"]
    assert proposal["status"] == "HIRED"
    assert [i["status"] for i in proposal["interviews"]] == ["CANCELLED", "CANCELLED"]
    await assert_rejected(gql, world, session, "INVALID_STATE", "proposalId")
    again = await gql(HIRE, {"id": str(world.a.proposal.id)}, token=world.token(world.a.member))
    assert again["data"]["hireCandidate"]["errors"][0]["code"] == "INVALID_STATE"
    manager = await gql(
        "{ notifications { edges { node { kind } } } }", token=world.token(world.a.manager)
    )
    assert "CANDIDATE_HIRED" in [
        e["node"]["kind"] for e in manager["data"]["notifications"]["edges"]
    ]


async def test_request_notifies_candidate_participants_and_manager_at_once(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    await ask(gql, world, inviteEmails=["guest@outside.com"])
    kinds = {}
    for name in ("candidate", "member", "manager"):
        body = await gql(
            "{ notifications(unreadOnly: true) { edges { node { id kind interview { round } } } } }",
            token=world.token(getattr(world.a, name)),
        )
        kinds[name] = [e["node"]["kind"] for e in body["data"]["notifications"]["edges"]]
    assert kinds == {
        "candidate": ["INTERVIEW_REQUESTED"],
        "member": ["ADDED_TO_INTERVIEW"],
        "manager": ["REQUEST_SENT"],
    }
    mails = await session.scalars(select(OutboxMessage.payload))
    assert "guest@outside.com" in [m["to"] for m in mails]


async def test_mark_notifications_read(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    await ask(gql, world)
    token = world.token(world.a.candidate)
    body = await gql("{ notifications { edges { node { id read } } } }", token=token)
    (edge,) = body["data"]["notifications"]["edges"]
    mark = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { marked errors { code field } } }"
    foreign = await gql(mark, {"ids": [edge["node"]["id"], new_id()]}, token=token)
    assert foreign["data"]["markNotificationsRead"]["errors"] == [
        {"code": "NOT_FOUND", "field": "ids.1"}
    ]
    ok = await gql(mark, {"ids": [edge["node"]["id"]]}, token=token)
    assert ok["data"]["markNotificationsRead"] == {"marked": 1, "errors": []}
    unread = await gql("{ notifications(unreadOnly: true) { edges { node { id } } } }", token=token)
    assert unread["data"]["notifications"]["edges"] == []


async def test_another_user_cannot_mark_my_notifications(gql: GraphQLClient, world: World) -> None:
    await ask(gql, world)
    body = await gql(
        "{ notifications { edges { node { id } } } }", token=world.token(world.a.candidate)
    )
    note_id = body["data"]["notifications"]["edges"][0]["node"]["id"]
    mark = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { marked errors { code } } }"
    other = await gql(mark, {"ids": [note_id]}, token=world.token(world.b.candidate))
    assert other["data"]["markNotificationsRead"]["errors"] == [{"code": "NOT_FOUND"}]


async def test_pending_interviews_paginate_with_cursors(
    gql: GraphQLClient, world: World, clock: Clock
) -> None:
    ids = []
    for minutes in range(5):
        clock.now = datetime(2026, 3, 2, 12, minutes, tzinfo=UTC)
        ids.append((await ask(gql, world))["interview"]["id"])
    query = """query($after: String) { myInterviews(group: PENDING, first: 2, after: $after) {
        edges { node { id } } pageInfo { hasNextPage endCursor } } }"""
    seen, after = [], None
    while True:
        page = (await gql(query, {"after": after}, token=world.token(world.a.member)))["data"][
            "myInterviews"
        ]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == list(reversed(ids))
    assert clock.now - timedelta(minutes=4) == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
