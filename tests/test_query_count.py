"""Lists resolve in a bounded number of SQL statements, whatever their length."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from tests.conftest import Clock, GraphQLClient
from tests.factories import World, make_interview, make_world

MY_INTERVIEWS = """{
  myInterviews(group: PENDING, first: 100) {
    edges { cursor node {
      id round status timeZone durationMinutes requestedBy { id }
      windows { start end }
      participants { kind email syncState user { id name } }
      proposal { id status candidate { id } project { id title accountManager { id } } interviews { id } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def warm_up(gql: GraphQLClient, token: str) -> None:
    """A token's first use in a minute also writes its last-used time: not the list's cost."""
    assert "errors" not in await gql("{ me { id } }", token=token)


async def _statements_for(
    n: int,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    gql: GraphQLClient,
    count_queries: Any,
    world: World,
) -> int:
    for _ in range(n):
        await make_interview(
            session,
            settings,
            world.a,
            clock.now,
            participants=[world.a.member, world.a.colleague],
            invite_emails=["guest@outside.com"],
        )
    with count_queries() as counter:
        body = await gql(MY_INTERVIEWS, token=world.token(world.a.member))
    assert "errors" not in body, body
    edges = body["data"]["myInterviews"]["edges"]
    assert len(edges) >= n
    assert all(
        len(e["node"]["windows"]) == 2 and len(e["node"]["participants"]) == 3 for e in edges
    )
    return counter.count


async def test_my_interviews_costs_the_same_for_5_and_50_interviews(
    session: AsyncSession, settings: Settings, clock: Clock, gql: GraphQLClient, count_queries: Any
) -> None:
    world = await make_world(session)
    await warm_up(gql, world.token(world.a.member))
    with_5 = await _statements_for(5, session, settings, clock, gql, count_queries, world)
    with_50 = await _statements_for(45, session, settings, clock, gql, count_queries, world)
    assert with_5 == with_50
    # auth, the page, and one per loader (participants come with their users)
    assert with_50 <= 10


async def test_my_applications_costs_the_same_for_1_and_several_proposals(
    session: AsyncSession, settings: Settings, clock: Clock, gql: GraphQLClient, count_queries: Any
) -> None:
    world = await make_world(session)
    query = "{ myApplications { actionRequired proposal { id project { title } interviews { round windows { start } } } } }"
    await make_interview(session, settings, world.a, clock.now)
    await warm_up(gql, world.token(world.a.candidate))  # the token's use of the minute recorded
    with count_queries() as one:
        first = await gql(query, token=world.token(world.a.candidate))
    await make_interview(session, settings, world.a, clock.now)
    await make_interview(session, settings, world.a, clock.now)
    with count_queries() as more:
        second = await gql(query, token=world.token(world.a.candidate))
    assert len(first["data"]["myApplications"][0]["proposal"]["interviews"]) == 1
    assert len(second["data"]["myApplications"][0]["proposal"]["interviews"]) == 3
    assert one.count == more.count


SLOTS = """query($id: ID!) { availableSlots(interviewId: $id, timeZone: "Asia/Kolkata") {
  days { date slots { start end } } warning } }"""
BOOK = """mutation($input: BookInterviewInput!) { bookInterview(input: $input) {
  interview { id status bookedStart } errors { code } } }"""


async def _busy_interview(
    session: AsyncSession, settings: Settings, clock: Clock, world: World, other_bookings: int
) -> Any:
    """An interview of two members who have `other_bookings` reservations each elsewhere,
    inside and outside its windows."""
    from datetime import timedelta

    from app.models import Interview, InterviewStatus, SlotReservation

    interview = await make_interview(
        session,
        settings,
        world.a,
        clock.now,
        participants=[world.a.member, world.a.colleague],
        invite_emails=["guest@outside.com"],
    )
    for n in range(other_bookings):
        start = clock.now + timedelta(days=1, minutes=30 * n)
        other = Interview(
            proposal_id=world.a.proposal.id,
            round=1000 + n,
            requested_by_id=world.a.member.id,
            time_zone="UTC",
            duration_minutes=25,
            requested_at=clock.now,
            status=InterviewStatus.BOOKED,
            booked_start=start,
            booked_end=start + timedelta(minutes=25),
        )
        session.add(other)
        await session.flush()
        session.add_all(
            SlotReservation(
                interview_id=other.id,
                user_id=member.id,
                starts_at=start,
                ends_at=start + timedelta(minutes=25),
            )
            for member in (world.a.member, world.a.colleague)
        )
    await session.commit()
    return interview


async def test_available_slots_cost_three_statements_whatever_the_bookings(
    session: AsyncSession, settings: Settings, clock: Clock, gql: GraphQLClient, count_queries: Any
) -> None:
    """Authentication, the interview with its proposal and project, and one statement for
    windows, members, the bookings inside the windows and calendar presence."""
    world = await make_world(session)
    token = world.token(world.a.candidate)
    await warm_up(gql, token)
    counts = []
    for bookings in (0, 40):
        interview = await _busy_interview(session, settings, clock, world, bookings)
        with count_queries() as counter:
            body = await gql(SLOTS, {"id": str(interview.id)}, token=token)
        assert "errors" not in body, body
        assert body["data"]["availableSlots"]["days"]
        counts.append(counter.count)
    assert counts == [3, 3]


async def test_booking_costs_at_most_twelve_statements(
    session: AsyncSession, settings: Settings, clock: Clock, gql: GraphQLClient, count_queries: Any
) -> None:
    """Locks, one slot check, the booking, the audience, and one insert per table written
    (several outbox rows, notifications and reservations each go in one statement): 12.
    Webhooks' enabled endpoints cost none here: on PostgreSQL whether any is enabled is
    read with the lock on the people; on SQLite, which takes no lock, they are read."""
    world = await make_world(session)
    token = world.token(world.a.candidate)
    await warm_up(gql, token)
    interview = await _busy_interview(session, settings, clock, world, 3)
    slots = await gql(SLOTS, {"id": str(interview.id)}, token=token)
    start = slots["data"]["availableSlots"]["days"][0]["slots"][0]["start"]
    with count_queries() as counter:
        body = await gql(
            BOOK,
            # The candidate's own zone: another one is saved to the profile (one UPDATE more).
            {
                "input": {
                    "interviewId": str(interview.id),
                    "start": start,
                    "timeZone": world.a.candidate.time_zone,
                }
            },
            token=token,
        )
    assert body["data"]["bookInterview"]["errors"] == [], body
    assert body["data"]["bookInterview"]["interview"]["status"] == "BOOKED"
    assert counter.count <= 12, "\n".join(s.split("\n")[0][:100] for s in counter.statements)


async def test_my_interviews_reads_the_lists_asked_for_also_through_fragments(
    session: AsyncSession, settings: Settings, clock: Clock, gql: GraphQLClient, count_queries: Any
) -> None:
    """The page's windows and participants are read up front only when selected, whether
    directly, through a named fragment or an inline one, and answer the same."""
    world = await make_world(session)
    token = world.token(world.a.member)
    await warm_up(gql, token)
    for _ in range(3):
        await make_interview(
            session, settings, world.a, clock.now, participants=[world.a.member, world.a.colleague]
        )
    page = "myInterviews(group: PENDING, first: 10) { edges { node { id %s } } }"
    lists = "windows { start end } participants { email user { name } } proposal { id }"
    queries = {
        "ids only": "{ " + page % "" + " }",
        "direct": "{ " + page % lists + " }",
        "fragment": "{ " + page % "...Lists" + " } fragment Lists on Interview { " + lists + " }",
        "inline": "{ " + page % ("... on Interview { " + lists + " }") + " }",
        "proposal status": "{ "
        + page % lists.replace("proposal { id }", "proposal { id status }")
        + " }",
    }
    answers, counts = {}, {}
    for name, query in queries.items():
        with count_queries() as counter:
            body = await gql(query, token=token)
        assert "errors" not in body, (name, body)
        answers[name], counts[name] = body["data"], counter.count
    assert counts["ids only"] == 2  # authentication and the page
    # windows and participants; `proposal { id }` reads nothing more: the interview names it
    assert counts["direct"] == counts["fragment"] == counts["inline"] == 4
    assert counts["proposal status"] == 5  # the proposals, for their status
    assert answers["direct"] == answers["fragment"] == answers["inline"]
    with_status = answers["proposal status"]["myInterviews"]["edges"]
    assert {e["node"]["proposal"]["status"] for e in with_status} == {"OPEN"}
    assert [e["node"]["proposal"]["id"] for e in with_status] == [
        e["node"]["proposal"]["id"] for e in answers["direct"]["myInterviews"]["edges"]
    ]
    node = answers["direct"]["myInterviews"]["edges"][0]["node"]
    assert len(node["windows"]) == 2 and len(node["participants"]) == 2
