"""API tokens: expiry, revocation (one, or all of a user's), last use, who sees them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.main import create_app
from app.models import ApiToken, User
from app.people.tokens import issue_token
from tests.conftest import Clock, GraphQLClient, make_settings
from tests.factories import World, make_interview, make_world

ME = "{ me { id apiTokens { id createdAt expiresAt lastUsedAt revokedAt } } }"
ISSUE = """mutation($id: ID!) { issueApiToken(userId: $id) {
  token apiToken { id expiresAt revokedAt } errors { code field message } } }"""
REVOKE = """mutation($id: ID!) { revokeApiToken(id: $id) {
  token apiToken { id revokedAt } errors { code field message } } }"""
REVOKE_ALL = """mutation($id: ID!) { revokeAllApiTokens(userId: $id) {
  revokedCount errors { code field message } } }"""
CANDIDATE_TOKENS = "query($id: ID!) { proposal(id: $id) { candidate { id apiTokens { id } } } }"


@pytest.fixture
async def world(session: AsyncSession) -> World:
    return await make_world(session)


def unauthenticated(body: dict[str, Any]) -> bool:
    return body["data"] is None and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def new_token(session: AsyncSession, user: User, **kwargs: Any) -> tuple[str, str]:
    issued = await issue_token(session=session, user=user, **kwargs)
    await session.commit()
    return issued.token, str(issued.row.id)


async def test_a_token_works_until_its_expiry_and_not_at_it(
    gql: GraphQLClient, world: World, session: AsyncSession, clock: Clock
) -> None:
    token, _ = await new_token(
        session, world.a.member, lifetime=timedelta(days=90), now=clock.now - timedelta(days=90)
    )
    clock.now -= timedelta(seconds=1)
    assert (await gql(ME, token=token))["data"]["me"]["id"] == str(world.a.member.id)

    clock.now += timedelta(seconds=1)  # exactly 90 days after issue

    assert unauthenticated(await gql(ME, token=token))


async def test_issued_tokens_expire_after_the_configured_lifetime(
    engine: AsyncEngine, world: World, database_url: str, clock: Clock
) -> None:
    settings = make_settings(database_url, api_token_lifetime_days=7)
    async with GraphQLClient.on(create_app(settings, engine=engine, clock=clock)) as gql:
        body = await gql(ISSUE, {"id": str(world.a.member.id)}, token=world.token(world.admin))
        issued = body["data"]["issueApiToken"]
        assert issued["errors"] == []
        assert issued["apiToken"]["expiresAt"] == (clock.now + timedelta(days=7)).isoformat()
        assert (await gql(ME, token=issued["token"]))["data"]["me"]["id"]

        clock.now += timedelta(days=7)

        assert unauthenticated(await gql(ME, token=issued["token"]))


async def test_a_revoked_token_stops_working_and_the_others_do_not(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    member = world.a.member
    old_token = world.token(member)
    body = await gql(ISSUE, {"id": str(member.id)}, token=world.token(world.admin))
    new = body["data"]["issueApiToken"]
    # Issuing leaves the old token valid: SPEC allows a token per integration.
    assert (await gql(ME, token=old_token))["data"]["me"]["id"] == str(member.id)

    revoked = await gql(REVOKE, {"id": new["apiToken"]["id"]}, token=old_token)

    payload = revoked["data"]["revokeApiToken"]
    assert payload["errors"] == [] and payload["token"] is None
    assert payload["apiToken"]["revokedAt"] is not None
    assert unauthenticated(await gql(ME, token=new["token"]))
    assert (await gql(ME, token=old_token))["data"]["me"]["id"] == str(member.id)
    again = await gql(REVOKE, {"id": new["apiToken"]["id"]}, token=old_token)
    assert again["data"]["revokeApiToken"]["apiToken"] == payload["apiToken"]


async def test_a_user_can_revoke_the_token_they_are_using(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    token, token_id = await new_token(session, world.a.member)

    body = await gql(REVOKE, {"id": token_id}, token=token)

    assert body["data"]["revokeApiToken"]["errors"] == []
    assert unauthenticated(await gql(ME, token=token))


@pytest.mark.parametrize("who", ["colleague", "manager", "other_org_member"])
async def test_another_users_token_is_not_found_and_stays_valid(
    who: str, gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    token, token_id = await new_token(session, world.a.member)
    caller = {
        "colleague": world.a.colleague,
        "manager": world.a.manager,
        "other_org_member": world.b.member,
    }[who]

    body = await gql(REVOKE, {"id": token_id}, token=world.token(caller))
    unknown = await gql(
        REVOKE, {"id": "00000000-0000-0000-0000-000000000000"}, token=world.token(caller)
    )

    error = {"code": "NOT_FOUND", "field": "id", "message": "API token not found"}
    assert body["data"]["revokeApiToken"] == {"token": None, "apiToken": None, "errors": [error]}
    assert unknown["data"]["revokeApiToken"] == body["data"]["revokeApiToken"]
    assert (await gql(ME, token=token))["data"]["me"]["id"] == str(world.a.member.id)


async def test_an_admin_revokes_anyones_token(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    token, token_id = await new_token(session, world.b.candidate)

    body = await gql(REVOKE, {"id": token_id}, token=world.token(world.admin))

    assert body["data"]["revokeApiToken"]["errors"] == []
    assert unauthenticated(await gql(ME, token=token))


async def test_revoking_all_of_a_users_tokens(
    gql: GraphQLClient, world: World, session: AsyncSession, clock: Clock
) -> None:
    member = world.a.member
    tokens = [world.token(member), (await new_token(session, member))[0]]
    await new_token(session, member, now=clock.now - timedelta(days=200))  # already expired

    refused = await gql(REVOKE_ALL, {"id": str(member.id)}, token=world.token(world.a.colleague))
    body = await gql(REVOKE_ALL, {"id": str(member.id)}, token=tokens[0])

    assert refused["data"]["revokeAllApiTokens"] == {
        "revokedCount": 0,
        "errors": [{"code": "NOT_FOUND", "field": "userId", "message": "user not found"}],
    }
    assert body["data"]["revokeAllApiTokens"] == {"revokedCount": 2, "errors": []}
    assert all([unauthenticated(await gql(ME, token=t)) for t in tokens])
    colleague = await gql(ME, token=world.token(world.a.colleague))
    assert colleague["data"]["me"]["id"] == str(world.a.colleague.id)


async def test_rotating_a_token_in_one_operation(gql: GraphQLClient, world: World) -> None:
    """revokeAllApiTokens then issueApiToken: root mutation fields run in order."""
    candidate = world.a.candidate
    rotate = """mutation($id: ID!) {
      revokeAllApiTokens(userId: $id) { revokedCount errors { code } }
      issueApiToken(userId: $id) { token errors { code } } }"""

    body = await gql(rotate, {"id": str(candidate.id)}, token=world.token(world.admin))

    assert body["data"]["revokeAllApiTokens"] == {"revokedCount": 1, "errors": []}
    new_token = body["data"]["issueApiToken"]["token"]
    assert unauthenticated(await gql(ME, token=world.token(candidate)))
    assert (await gql(ME, token=new_token))["data"]["me"]["id"] == str(candidate.id)


async def test_tokens_are_listed_to_their_user_and_admins_only(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    proposal = {"id": str(world.a.proposal.id)}
    mine = await gql(ME, token=world.token(world.a.candidate))
    by_admin = await gql(CANDIDATE_TOKENS, proposal, token=world.token(world.admin))
    by_member = await gql(CANDIDATE_TOKENS, proposal, token=world.token(world.a.member))

    [listed] = mine["data"]["me"]["apiTokens"]
    row = await session.scalar(select(ApiToken).where(ApiToken.user_id == world.a.candidate.id))
    assert row is not None and listed["id"] == str(row.id)
    assert by_admin["data"]["proposal"]["candidate"]["apiTokens"] == [{"id": listed["id"]}]
    assert by_member["data"]["proposal"]["candidate"]["apiTokens"] is None


async def test_last_use_is_written_at_most_once_a_minute(
    gql: GraphQLClient, world: World, clock: Clock, count_queries: Any
) -> None:
    token = world.token(world.a.candidate)
    query = "{ me { id } }"

    def writes(statements: list[str]) -> int:
        return sum(s.lstrip().upper().startswith("UPDATE API_TOKENS") for s in statements)

    with count_queries() as first:
        await gql(query, token=token)
    clock.now += timedelta(seconds=59)
    with count_queries() as within_the_minute:
        await gql(query, token=token)
    clock.now += timedelta(seconds=1)
    with count_queries() as a_minute_later:
        await gql(query, token=token)

    assert (writes(first.statements), first.count) == (1, 2)
    # Authentication is one SELECT; `me` needs nothing more.
    assert (writes(within_the_minute.statements), within_the_minute.count) == (0, 1)
    assert writes(a_minute_later.statements) == 1
    [listed] = (await gql(ME, token=token))["data"]["me"]["apiTokens"]
    assert listed["lastUsedAt"] == clock.now.isoformat()


async def test_listing_tokens_of_many_users_costs_one_query(
    gql: GraphQLClient,
    world: World,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    count_queries: Any,
) -> None:
    query = "{ myInterviews(group: PENDING, first: 100) { edges { node { participants { user { apiTokens { id } } } } } } }"
    admin = world.token(world.admin)
    await gql(ME, token=admin)  # its last-used write is not the list's cost
    await make_interview(session, settings, world.a, clock.now, participants=[world.a.member])
    with count_queries() as one:
        first = await gql(query, token=admin)
    participants = [world.b.member, world.b.colleague]
    await make_interview(session, settings, world.b, clock.now, participants=participants)
    for user in (world.a.member, world.b.member):
        await new_token(session, user)
    with count_queries() as several:
        second = await gql(query, token=admin)

    users = [
        p["user"]
        for e in second["data"]["myInterviews"]["edges"]
        for p in e["node"]["participants"]
    ]
    assert len(first["data"]["myInterviews"]["edges"]) == 1 and len(users) == 3
    assert sorted(len(u["apiTokens"]) for u in users) == [1, 2, 2]
    assert one.count == several.count
