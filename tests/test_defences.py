"""Depth, alias and token limits, error masking, GraphiQL only where enabled, no batching."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.main import create_app
from app.models import Organization
from app.scheduling import listing
from tests.conftest import Clock, GraphQLClient, make_settings
from tests.factories import World, make_world


@pytest.fixture
async def world(session: AsyncSession) -> World:
    return await make_world(session)


async def test_deep_queries_are_refused(gql: GraphQLClient, world: World) -> None:
    nested = "id"
    for _ in range(8):
        nested = f"proposal {{ interviews {{ {nested} }} }}"
    deep = "{ myApplications { " + nested + " } }"
    body = await gql(deep, token=world.token(world.a.candidate))
    assert body["errors"][0]["extensions"] == {"code": "QUERY_TOO_DEEP"}
    assert "at most 10" in body["errors"][0]["message"]


async def test_alias_floods_are_refused(gql: GraphQLClient, world: World) -> None:
    aliases = " ".join(f"a{i}: me {{ id }}" for i in range(40))
    body = await gql("{ " + aliases + " }", token=world.token(world.a.candidate))
    assert body["errors"][0]["extensions"] == {"code": "TOO_MANY_ALIASES"}
    assert "40 aliases" in body["errors"][0]["message"]


async def test_token_floods_are_refused_at_the_configured_limit(
    engine: AsyncEngine, database_url: str, clock: Clock, world: World
) -> None:
    app = create_app(make_settings(database_url, max_query_tokens=100), engine=engine, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        gql = GraphQLClient(http)
        token = world.token(world.a.candidate)
        # "{ me { id ... } }": 4 braces, "me" and the ids, with the end of the document.
        at_limit = await gql("{ me { " + " ".join(["id"] * 95) + " } }", token=token)
        over = await gql("{ me { " + " ".join(["id"] * 96) + " } }", token=token)
    assert at_limit == {"data": {"me": {"id": str(world.a.candidate.id)}}}
    assert over["data"] is None
    assert over["errors"][0]["extensions"] == {"code": "QUERY_TOO_LARGE"}
    assert "100 tokens" in over["errors"][0]["message"]


async def test_unexpected_errors_are_masked_and_logged(
    gql: GraphQLClient,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(**_: object) -> None:
        raise RuntimeError("secret connection string leaked")

    monkeypatch.setattr(listing, "my_interviews", broken)
    with caplog.at_level(logging.ERROR):
        body = await gql(
            "{ myInterviews(group: PENDING) { edges { cursor } } }",
            token=world.token(world.a.member),
        )
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "secret" not in str(body)
    assert "secret connection string leaked" in caplog.text


async def test_user_input_errors_in_queries_are_shown(gql: GraphQLClient, world: World) -> None:
    body = await gql(
        '{ myInterviews(group: PENDING, after: "garbage") { edges { cursor } } }',
        token=world.token(world.a.member),
    )
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION", "field": "after"}


async def test_batched_requests_are_refused_and_nothing_in_them_runs(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    create = "mutation($n: String!) { createOrganization(input: {name: $n}) { errors { code } } }"
    token = {"Authorization": f"Bearer {world.token(world.admin)}"}
    response = await client.post(
        "/graphql",
        json=[
            {"query": create, "variables": {"n": "Batched 1"}},
            {"query": create, "variables": {"n": "Batched 2"}},
        ],
        headers=token,
    )
    assert response.status_code == 400
    assert "batch" in response.text.lower()
    names = set(await session.scalars(select(Organization.name)))
    await session.commit()
    assert names == {"Org A", "Org B"}
    # The same operation sent alone runs: the refusal is of the batch, not of the mutation.
    alone = await client.post(
        "/graphql", json={"query": create, "variables": {"n": "Alone"}}, headers=token
    )
    assert alone.json() == {"data": {"createOrganization": {"errors": []}}}


async def test_graphiql_is_served_only_when_enabled(
    engine: AsyncEngine, database_url: str, clock: Clock, clean_db: None
) -> None:
    for enabled, expected in [(False, 404), (True, 200)]:
        app = create_app(make_settings(database_url, graphiql=enabled), engine=engine, clock=clock)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/graphql", headers={"Accept": "text/html"})
        assert response.status_code == expected
        if enabled:
            assert "graphiql" in response.text.lower()
