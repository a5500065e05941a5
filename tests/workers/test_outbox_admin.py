"""Admins see failed deliveries and send them again; nobody else does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.db import begin_write
from app.main import create_app
from app.models import OutboxMessage, OutboxStatus
from app.notifications.kinds import MessageKind
from app.notifications.service import Recipient, tell
from tests.conftest import Clock, GraphQLClient
from tests.factories import World, make_world

FAILURES = """
query ($first: Int!, $after: String) {
  outboxFailures(first: $first, after: $after) {
    edges { node { id topic status kind recipient attempts lastError } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
RETRY = """
mutation ($id: ID!) {
  retryOutboxMessage(id: $id) { message { id status attempts } errors { code field } }
}
"""


class Wakes:
    count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def wakes() -> Wakes:
    return Wakes()


@pytest.fixture
async def admin_gql(
    engine: AsyncEngine, settings: Settings, clock: Clock, clean_db: None, wakes: Wakes
) -> AsyncIterator[GraphQLClient]:
    app = create_app(settings, engine=engine, clock=clock, on_outbox_written=wakes)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://roundtable.test"
    ) as http:
        yield GraphQLClient(http)


async def failed_mails(session: AsyncSession, world: World, count: int) -> list[str]:
    await begin_write(session)
    tell(
        session,
        recipients=[
            Recipient(email=f"nobody{i}@bounce.example", time_zone="UTC") for i in range(count)
        ],
        kind=MessageKind.CANDIDATE_HIRED,
        interview=None,
        message="hired",
    )
    await session.flush()
    await session.execute(
        update(OutboxMessage).values(status=OutboxStatus.FAILED, attempts=8, last_error="SMTP 550")
    )
    await session.commit()
    return [f"nobody{i}@bounce.example" for i in range(count)]


async def test_admin_lists_failures_page_by_page_and_retries_one(
    session: AsyncSession, admin_gql: GraphQLClient, wakes: Wakes
) -> None:
    world = await make_world(session)
    addresses = await failed_mails(session, world, 3)
    token = world.token(world.admin)

    first = await admin_gql(FAILURES, {"first": 2}, token=token)
    page = first["data"]["outboxFailures"]
    assert page["pageInfo"]["hasNextPage"] is True
    second = await admin_gql(
        FAILURES, {"first": 2, "after": page["pageInfo"]["endCursor"]}, token=token
    )
    nodes = page["edges"] + second["data"]["outboxFailures"]["edges"]
    assert sorted(e["node"]["recipient"] for e in nodes) == sorted(addresses)
    assert {e["node"]["lastError"] for e in nodes} == {"SMTP 550"}

    target = nodes[0]["node"]["id"]
    retried = await admin_gql(RETRY, {"id": target}, token=token)
    assert retried["data"]["retryOutboxMessage"] == {
        "message": {"id": target, "status": "PENDING", "attempts": 0},
        "errors": [],
    }
    assert wakes.count == 1, "the relay is woken after the commit"
    again = await admin_gql(RETRY, {"id": target}, token=token)
    assert again["data"]["retryOutboxMessage"]["errors"] == [
        {"code": "INVALID_STATE", "field": "id"}
    ]
    left = await admin_gql(FAILURES, {"first": 10}, token=token)
    assert len(left["data"]["outboxFailures"]["edges"]) == 2


async def test_only_admins_see_or_retry_the_outbox(
    session: AsyncSession, admin_gql: GraphQLClient, wakes: Wakes
) -> None:
    world = await make_world(session)
    await failed_mails(session, world, 1)
    member = world.token(world.a.member)
    listed = await admin_gql(FAILURES, {"first": 5}, token=member)
    assert listed["data"] is None
    assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    admin_view = await admin_gql(FAILURES, {"first": 5}, token=world.token(world.admin))
    target = admin_view["data"]["outboxFailures"]["edges"][0]["node"]["id"]
    refused = await admin_gql(RETRY, {"id": target}, token=member)
    assert refused["data"]["retryOutboxMessage"]["errors"] == [{"code": "FORBIDDEN", "field": None}]
    missing = await admin_gql(RETRY, {"id": "not-an-id"}, token=world.token(world.admin))
    assert missing["data"]["retryOutboxMessage"]["errors"] == [{"code": "NOT_FOUND", "field": "id"}]
    assert wakes.count == 0
