"""Rate limits: failed sign-ins per address, mutations per token, OAuth starts per user.

Each app built here has its own memory store unless it is given Redis, so tests do not
share counters. Limits are small so that the edge is a few requests away.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.main import create_app
from app.models import ApiToken
from app.ratelimit import RateLimiter
from tests.conftest import Clock, GraphQLClient, make_settings
from tests.factories import World, make_interview, make_world
from tests.services import REDIS_URL, require_service
from tests.test_booking import BOOK, CANCEL
from tests.test_links import ACCESS as LINK_ACCESS
from tests.test_links import token_for
from tests.test_requests import REQUEST, request_input

LIMITED = {
    "rate_limits": True,
    "rate_limit_mutations": "3/minute",
    "rate_limit_failed_auth": "3/minute",
    "rate_limit_oauth_starts": "2/minute",
}
ME = "{ me { id } }"
ISSUE = "mutation($id: ID!) { issueApiToken(userId: $id) { token errors { code } } }"
BAD_TOKEN = "rt_" + "x" * 43


@pytest.fixture
async def world(session: AsyncSession) -> World:
    return await make_world(session)


@pytest.fixture
def redis_url() -> str:
    parts = urlsplit(REDIS_URL)
    require_service("Redis", parts.hostname or "127.0.0.1", parts.port or 6379)
    return REDIS_URL


@contextlib.asynccontextmanager
async def app_client(
    engine: AsyncEngine, database_url: str, clock: Clock, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(database_url, **{**LIMITED, **overrides})
    app = create_app(settings, engine=engine, clock=clock)
    async with GraphQLClient.on(app) as gql:
        yield gql.http


async def post(
    http: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await http.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )


def assert_rate_limited(response: httpx.Response, window_seconds: int = 60) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= window_seconds
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] == int(response.headers["retry-after"])


def code_of(response: httpx.Response) -> str | None:
    errors = response.json().get("errors")
    return errors[0]["extensions"]["code"] if errors else None


async def token_count(session: AsyncSession) -> int:
    count = await session.scalar(select(func.count()).select_from(ApiToken)) or 0
    await session.commit()
    return count


async def test_failed_sign_ins_per_address_at_and_past_the_limit(
    engine: AsyncEngine, database_url: str, clock: Clock, world: World
) -> None:
    async with app_client(engine, database_url, clock) as http:
        at_limit = [await post(http, ME, token=BAD_TOKEN) for _ in range(3)]
        past = await post(http, ME, token=BAD_TOKEN)
        valid_from_there = await post(http, ME, token=world.token(world.a.member))
        without_a_token = await post(http, "{ __typename }")

    assert [(r.status_code, code_of(r)) for r in at_limit] == [(200, "UNAUTHENTICATED")] * 3
    assert_rate_limited(past)
    # The address is turned away before any token is looked up, a valid one included.
    assert_rate_limited(valid_from_there)
    assert without_a_token.status_code == 200


async def test_valid_tokens_are_not_failed_sign_ins(
    engine: AsyncEngine, database_url: str, clock: Clock, world: World
) -> None:
    async with app_client(engine, database_url, clock) as http:
        valid = [await post(http, ME, token=world.token(world.a.member)) for _ in range(5)]
        bad = [await post(http, ME, token=BAD_TOKEN) for _ in range(3)]

    assert {r.status_code for r in valid + bad} == {200}


async def test_mutations_per_token_at_and_past_the_limit(
    engine: AsyncEngine, database_url: str, clock: Clock, world: World, session: AsyncSession
) -> None:
    admin, other_admin_token = world.token(world.admin), None
    variables = {"id": str(world.a.member.id)}
    before = await token_count(session)
    async with app_client(engine, database_url, clock) as http:
        at_limit = [await post(http, ISSUE, variables, token=admin) for _ in range(3)]
        other_admin_token = at_limit[0].json()["data"]["issueApiToken"]["token"]
        past = await post(http, ISSUE, variables, token=admin)
        query_still_answered = await post(http, ME, token=admin)
        other_token = await post(http, ISSUE, variables, token=other_admin_token)

    assert [r.status_code for r in at_limit] == [200] * 3
    assert all(r.json()["data"]["issueApiToken"]["errors"] == [] for r in at_limit)
    assert_rate_limited(past)
    assert query_still_answered.status_code == 200 and "errors" not in query_still_answered.json()
    # The limit is per token (this one is the member's, so the mutation is refused as data).
    assert other_token.status_code == 200
    assert await token_count(session) == before + 3  # the refused mutation did nothing


async def test_every_root_mutation_field_counts(
    engine: AsyncEngine, database_url: str, clock: Clock, world: World, session: AsyncSession
) -> None:
    twice = """mutation($id: ID!) {
      a: issueApiToken(userId: $id) { token } b: issueApiToken(userId: $id) { token } }"""
    variables = {"id": str(world.a.member.id)}
    before = await token_count(session)
    async with app_client(engine, database_url, clock) as http:
        first = await post(http, twice, variables, token=world.token(world.admin))
        second = await post(http, twice, variables, token=world.token(world.admin))

    assert first.status_code == 200
    assert_rate_limited(second)  # 2 + 2 > 3
    assert await token_count(session) == before + 2


async def test_oauth_starts_per_user_at_and_past_the_limit(
    engine: AsyncEngine, database_url: str, clock: Clock, world: World
) -> None:
    connect = (
        """mutation { connectCalendar(provider: GOOGLE) { authorizationUrl errors { code } } }"""
    )
    providers = {"google_client_id": "id", "google_client_secret": "secret"}
    async with app_client(
        engine, database_url, clock, rate_limit_mutations="100/minute", **providers
    ) as http:
        at_limit = [await post(http, connect, token=world.token(world.a.member)) for _ in range(2)]
        past = await post(http, connect, token=world.token(world.a.member))
        colleague = await post(http, connect, token=world.token(world.a.colleague))

    assert all(r.json()["data"]["connectCalendar"]["authorizationUrl"] for r in at_limit)
    assert_rate_limited(past)
    assert colleague.json()["data"]["connectCalendar"]["authorizationUrl"]


async def test_no_limit_applies_when_rate_limits_are_off(
    engine: AsyncEngine, database_url: str, clock: Clock, world: World
) -> None:
    async with app_client(engine, database_url, clock, rate_limits=False) as http:
        bad = [await post(http, ME, token=BAD_TOKEN) for _ in range(6)]
        mutations = [
            await post(http, ISSUE, {"id": str(world.a.member.id)}, token=world.token(world.admin))
            for _ in range(6)
        ]

    assert {r.status_code for r in bad + mutations} == {200}


async def test_a_whole_booking_flow_with_the_default_limits_on(
    engine: AsyncEngine, database_url: str, clock: Clock, world: World
) -> None:
    settings = make_settings(database_url, rate_limits=True)
    assert settings.rate_limit_mutations == "120/minute"
    async with GraphQLClient.on(create_app(settings, engine=engine, clock=clock)) as gql:
        member, candidate = world.token(world.a.member), world.token(world.a.candidate)
        requested = await gql(REQUEST, {"input": request_input(world)}, token=member)
        interview = requested["data"]["requestInterview"]["interview"]
        booked = await gql(
            BOOK,
            {
                "input": {
                    "interviewId": interview["id"],
                    "start": interview["windows"][0]["start"],
                    "timeZone": "UTC",
                }
            },
            token=candidate,
        )
        cancelled = await gql(
            CANCEL, {"input": {"interviewId": interview["id"], "reason": "Sorry"}}, token=member
        )

    assert requested["data"]["requestInterview"]["errors"] == []
    assert booked["data"]["bookInterview"]["errors"] == []
    assert cancelled["data"]["cancelInterview"]["interview"]["status"] == "CANCELLED"


async def test_two_apps_on_one_redis_share_the_limit(
    engine: AsyncEngine, database_url: str, clock: Clock, world: World, redis_url: str
) -> None:
    settings = make_settings(database_url, **LIMITED, rate_limit_storage_url=redis_url)
    prefix = f"roundtable-test-{uuid.uuid4().hex}"
    limiters = [RateLimiter(settings, key_prefix=prefix) for _ in range(2)]
    apps = [create_app(settings, engine=engine, clock=clock, rate_limiter=lim) for lim in limiters]
    async with contextlib.AsyncExitStack() as stack:
        for limiter in limiters:
            stack.push_async_callback(limiter.aclose)
        one = await stack.enter_async_context(GraphQLClient.on(apps[0]))
        two = await stack.enter_async_context(GraphQLClient.on(apps[1]))
        variables = {"id": str(world.a.member.id)}
        token = world.token(world.admin)
        answers = [
            await post(http, ISSUE, variables, token=token)
            for http in (one.http, two.http, one.http)
        ]
        past = await post(two.http, ISSUE, variables, token=token)

    assert [r.status_code for r in answers] == [200] * 3
    assert_rate_limited(past)


async def test_forged_mail_links_are_failed_sign_ins(
    engine: AsyncEngine, database_url: str, clock: Clock, world: World
) -> None:
    forged = {"X-Roundtable-Link": "not-a-signed-link"}
    async with app_client(engine, database_url, clock) as http:
        at_limit = [
            await http.post("/graphql", json={"query": LINK_ACCESS}, headers=forged)
            for _ in range(3)
        ]
        past = await http.post("/graphql", json={"query": LINK_ACCESS}, headers=forged)

    assert [r.status_code for r in at_limit] == [200] * 3
    assert_rate_limited(past)


async def test_mutations_through_a_mail_link_count_per_link(
    engine: AsyncEngine,
    database_url: str,
    clock: Clock,
    world: World,
    session: AsyncSession,
    settings: Settings,
) -> None:
    interview = await make_interview(session, settings, world.a, clock.now)
    token = await token_for(
        session, interview.id, world.a.candidate.email, expires_at=clock.now + timedelta(days=7)
    )
    update_me = """mutation { updateMe(input: {timeZone: "Europe/Paris"}) { errors { code } } }"""
    headers = {"X-Roundtable-Link": token}
    async with app_client(engine, database_url, clock) as http:
        at_limit = [
            await http.post("/graphql", json={"query": update_me}, headers=headers)
            for _ in range(3)
        ]
        past = await http.post("/graphql", json={"query": update_me}, headers=headers)
        by_token = await post(
            http, ISSUE, {"id": str(world.a.member.id)}, token=world.token(world.admin)
        )

    assert [r.json()["data"]["updateMe"]["errors"] for r in at_limit] == [[]] * 3
    assert_rate_limited(past)
    assert by_token.status_code == 200
