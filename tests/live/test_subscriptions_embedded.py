"""The embedded default (SQLite, one process): changes reach subscriptions in-process, and a
token revoked while subscribed ends the subscription at its next event."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.main import create_app
from app.models import utcnow
from app.people.tokens import revoke_all
from tests.factories import make_interview, make_world
from tests.live.wsclient import connected
from tests.workers.conftest import eventually

CHANGED = (
    "subscription($id: ID) { interviewChanged(interviewId: $id) { id alternativeTimesRequested } }"
)
ALTERNATIVE_WITH_WORDS = """mutation($id: ID!) {
  requestAlternativeTimes(input: {interviewId: $id, message: "Evenings?"}) { errors { code } } }"""
ALTERNATIVE = """mutation($id: ID!) { requestAlternativeTimes(input: {interviewId: $id}) {
  errors { code } } }"""


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(settings), log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: _started(server), what="server started")
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def _started(server: uvicorn.Server) -> bool:
    return server.started


async def test_embedded_subscription_hears_a_change_and_ends_when_the_token_is_revoked(
    session: AsyncSession, settings: Settings, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("the embedded default is SQLite")
    world = await make_world(session)
    interview = await make_interview(session, settings, world.a, utcnow())
    async with serving(settings) as base:
        member = {"Authorization": f"Bearer {world.token(world.a.member)}"}
        async with connected(f"ws://{base}/graphql", member) as subscriber:
            assert (await subscriber.receive())["type"] == "connection_ack"
            op = await subscriber.subscribe(CHANGED, {"id": str(interview.id)})
            await subscriber.round_trip()
            async with httpx.AsyncClient(timeout=20) as http:
                await http.post(
                    f"http://{base}/graphql",
                    json={"query": ALTERNATIVE, "variables": {"id": str(interview.id)}},
                    headers={"Authorization": f"Bearer {world.token(world.a.candidate)}"},
                )
            message: dict[str, Any] = await subscriber.receive()
            assert message["id"] == op
            assert message["payload"]["data"]["interviewChanged"]["alternativeTimesRequested"]

            # When the member's token is revoked, the next change ends the subscription
            await revoke_all(session=session, user_id=world.a.member.id, now=utcnow())
            await session.commit()
            async with httpx.AsyncClient(timeout=20) as http:
                await http.post(
                    f"http://{base}/graphql",
                    json={"query": ALTERNATIVE_WITH_WORDS, "variables": {"id": str(interview.id)}},
                    headers={"Authorization": f"Bearer {world.token(world.a.candidate)}"},
                )
            ended = await subscriber.receive()
            assert ended["id"] == op and ended["payload"]["data"] is None
            assert ended["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
