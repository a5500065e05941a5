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
    assert with_50 <= 12  # auth, the page, and one per loader


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
