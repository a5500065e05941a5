"""The account manager's attention list, acting for a team, and counts for tabs and badges."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import load_viewer
from app.config import Settings
from app.models import Interview, Participant, SyncState
from app.scheduling import booking
from tests.conftest import Clock, GraphQLClient
from tests.factories import World, book_first_slot, make_interview, make_world

ATTENTION = """{ needsAttention(first: 100) {
  totalCount
  edges { node { reasons interview { id round alternativeTimesMessage
    proposal { candidate { name } project { title accountManager { id } } }
    participants { email syncState syncError } } } }
} }"""


async def _attention_world(
    session: AsyncSession, settings: Settings, clock: Clock, world: World
) -> dict[str, Interview]:
    other_times = await make_interview(session, settings, world.a, clock.now)
    await booking.request_alternative_times(
        session=session,
        viewer=await load_viewer(session, world.a.candidate),
        interview_id=other_times.id,
        message="mornings please",
    )
    reminded = await make_interview(session, settings, world.a, clock.now)
    await session.execute(
        update(Interview).where(Interview.id == reminded.id).values(reminded_at=clock.now)
    )
    failed = await make_interview(session, settings, world.a, clock.now)
    await book_first_slot(session, settings, world.a, failed, clock.now)
    await session.execute(
        update(Participant)
        .where(Participant.interview_id == failed.id)
        .values(sync_state=SyncState.FAILED, sync_error="calendar refused")
    )
    await make_interview(session, settings, world.a, clock.now)  # fine: not listed
    await make_interview(session, settings, world.b, clock.now)
    await session.commit()
    return {"other_times": other_times, "reminded": reminded, "failed": failed}


async def test_the_account_manager_sees_what_needs_attention_in_their_organizations(
    gql: GraphQLClient,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    count_queries: Any,
) -> None:
    world = await make_world(session)
    made = await _attention_world(session, settings, clock, world)
    with count_queries() as few:
        body = await gql(ATTENTION, token=world.token(world.a.manager))
    listed = body["data"]["needsAttention"]
    reasons = {e["node"]["interview"]["id"]: e["node"]["reasons"] for e in listed["edges"]}
    assert reasons == {
        str(made["other_times"].id): ["OTHER_TIMES_REQUESTED"],
        str(made["reminded"].id): ["NOT_BOOKED_AFTER_REMINDER"],
        str(made["failed"].id): ["SYNC_FAILED"],
    }
    assert listed["totalCount"] == 3
    other = await gql(ATTENTION, token=world.token(world.b.manager))
    assert other["data"]["needsAttention"]["totalCount"] == 0

    clock.now += timedelta(minutes=1)
    await _attention_world(session, settings, clock, world)
    with count_queries() as many:
        grown = await gql(ATTENTION, token=world.token(world.a.manager))
    assert grown["data"]["needsAttention"]["totalCount"] == 6
    assert few.count == many.count


REQUEST = """mutation($input: RequestInterviewInput!) {
  requestInterview(input: $input) { interview { id requestedBy { id } } errors { code field } }
}"""
UPDATE = """mutation($input: UpdateAvailabilityInput!) {
  updateInterviewAvailability(input: $input) {
    interview { id lastEditedBy { id } lastEditedAt } errors { code field }
  }
}"""
CANCEL = """mutation($input: CancelInterviewInput!) {
  cancelInterview(input: $input) { interview { status cancellation { by { id } } } errors { code } }
}"""
RESCHEDULE = """mutation($input: RescheduleInterviewInput!) {
  rescheduleInterview(input: $input) {
    interview { id requestedBy { id } rescheduledFrom { id cancellation { by { id } } } }
    errors { code field }
  }
}"""
WINDOWS = [
    {"start": "2026-03-10T09:00", "end": "2026-03-10T11:00"},
    {"start": "2026-03-11T14:00", "end": "2026-03-11T15:00"},
]
MESSAGES = "{ notifications(first: 100) { edges { node { kind message } } } }"


async def test_an_account_manager_acts_for_the_team_and_is_named_as_the_actor(
    gql: GraphQLClient, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    world = await make_world(session)
    manager = world.token(world.a.manager)
    requested = await gql(
        REQUEST,
        {
            "input": {
                "proposalId": str(world.a.proposal.id),
                "timeZone": "America/New_York",
                "windows": WINDOWS,
                "participantIds": [str(world.a.member.id)],
            }
        },
        token=manager,
    )
    interview = requested["data"]["requestInterview"]["interview"]
    assert interview["requestedBy"]["id"] == str(world.a.manager.id)

    edited = await gql(
        UPDATE, {"input": {"interviewId": interview["id"], "windows": WINDOWS[::-1]}}, token=manager
    )
    assert edited["data"]["updateInterviewAvailability"]["interview"]["lastEditedBy"] == {
        "id": str(world.a.manager.id)
    }
    told = await gql(MESSAGES, token=world.token(world.a.candidate))
    updated = [
        e["node"]["message"]
        for e in told["data"]["notifications"]["edges"]
        if e["node"]["kind"] == "TIMES_UPDATED"
    ]
    [text] = updated
    assert text.startswith(
        f"{world.a.manager.name} (account manager) changed the times offered for your interview "
    )

    cancelled = await gql(CANCEL, {"input": {"interviewId": interview["id"]}}, token=manager)
    assert cancelled["data"]["cancelInterview"]["interview"]["cancellation"]["by"]["id"] == str(
        world.a.manager.id
    )

    booked = await make_interview(session, settings, world.a, clock.now)
    await book_first_slot(session, settings, world.a, booked, clock.now)
    moved = await gql(
        RESCHEDULE,
        {
            "input": {
                "interviewId": str(booked.id),
                "timeZone": "America/New_York",
                "windows": WINDOWS,
            }
        },
        token=manager,
    )
    new = moved["data"]["rescheduleInterview"]["interview"]
    assert new["requestedBy"]["id"] == str(world.a.manager.id)
    assert new["rescheduledFrom"] == {
        "id": str(booked.id),
        "cancellation": {"by": {"id": str(world.a.manager.id)}},
    }


async def test_an_account_manager_cannot_act_for_organizations_they_do_not_serve(
    gql: GraphQLClient, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    world = await make_world(session)
    interview = await make_interview(session, settings, world.a, clock.now)
    token = world.token(world.b.manager)
    body = await gql(CANCEL, {"input": {"interviewId": str(interview.id)}}, token=token)
    assert body["data"]["cancelInterview"]["errors"] == [{"code": "NOT_FOUND"}]


CLOSE = """mutation($input: CloseProposalInput!) {
  closeProposal(input: $input) {
    proposal { status interviews { status cancellation { reason } } } errors { code field }
  }
}"""


async def test_closing_a_proposal_cancels_what_is_still_to_come(
    gql: GraphQLClient, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    world = await make_world(session)
    await make_interview(session, settings, world.a, clock.now)
    booked = await make_interview(session, settings, world.a, clock.now)
    await book_first_slot(session, settings, world.a, booked, clock.now)
    variables = {"input": {"proposalId": str(world.a.proposal.id), "reason": "position filled"}}
    refused = await gql(CLOSE, variables, token=world.token(world.a.candidate))
    assert refused["data"]["closeProposal"]["errors"] == [
        {"code": "FORBIDDEN", "field": "proposalId"}
    ]
    hidden = await gql(CLOSE, variables, token=world.token(world.b.member))
    assert hidden["data"]["closeProposal"]["errors"] == [
        {"code": "NOT_FOUND", "field": "proposalId"}
    ]
    closed = await gql(CLOSE, variables, token=world.token(world.a.member))
    proposal = closed["data"]["closeProposal"]["proposal"]
    assert proposal["status"] == "CLOSED"
    assert proposal["interviews"] == [
        {"status": "CANCELLED", "cancellation": {"reason": "position filled"}},
        {"status": "CANCELLED", "cancellation": {"reason": "position filled"}},
    ]
    again = await gql(CLOSE, variables, token=world.token(world.admin))
    assert again["data"]["closeProposal"]["errors"][0]["code"] == "INVALID_STATE"


COUNTS = """{
  pending: myInterviews(group: PENDING) { totalCount }
  upcoming: myInterviews(group: UPCOMING) { totalCount }
  past: myInterviews(group: PAST) { totalCount }
  cancelled: myInterviews(group: CANCELLED) { totalCount }
  all: notifications { totalCount }
  booked: notifications(kinds: ["INTERVIEW_BOOKED"]) { totalCount edges { node { kind } } }
  unread: unreadNotificationCount
  unreadBooked: unreadNotificationCount(kinds: ["INTERVIEW_BOOKED"])
}"""


async def test_counts_per_interview_group_and_per_notification_kind(
    gql: GraphQLClient, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    world = await make_world(session)
    for _ in range(3):
        await make_interview(session, settings, world.a, clock.now)
    booked = await make_interview(session, settings, world.a, clock.now)
    await book_first_slot(session, settings, world.a, booked, clock.now)
    body = await gql(COUNTS, token=world.token(world.a.member))
    data = body["data"]
    assert [data[g]["totalCount"] for g in ["pending", "upcoming", "past", "cancelled"]] == [
        3,
        1,
        0,
        0,
    ]
    assert data["booked"]["totalCount"] == 1
    assert {e["node"]["kind"] for e in data["booked"]["edges"]} == {"INTERVIEW_BOOKED"}
    assert data["all"]["totalCount"] > data["booked"]["totalCount"]
    assert data["unread"] == data["all"]["totalCount"]
    assert data["unreadBooked"] == 1
    wrong = await gql(
        '{ notifications(kinds: ["NOPE"]) { totalCount } }', token=world.token(world.a.member)
    )
    assert wrong["errors"][0]["extensions"] == {"code": "VALIDATION", "field": "kinds.0"}
