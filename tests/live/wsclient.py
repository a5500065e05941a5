"""A graphql-transport-ws client on the `websockets` package, for the tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

PROTOCOL = "graphql-transport-ws"
WAIT_SECONDS = 15.0  # bounds a broken test; arrival itself is what is asserted


class Subscriber:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._ids = 0

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        """The next message other than a ping (answered) or pong."""
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), WAIT_SECONDS)
            message: dict[str, Any] = json.loads(raw)
            if message["type"] == "ping":
                await self.send({"type": "pong"})
            elif message["type"] != "pong":
                return message

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        self._ids += 1
        op = str(self._ids)
        payload = {"query": query, "variables": variables or {}}
        await self.send({"id": op, "type": "subscribe", "payload": payload})
        return op

    async def round_trip(self) -> None:
        """A ping answered: every message sent before it has been handled by the server."""
        await self.send({"type": "ping"})
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), WAIT_SECONDS)
            if json.loads(raw)["type"] == "pong":
                return


@contextlib.asynccontextmanager
async def connected(url: str, payload: dict[str, Any] | None) -> AsyncIterator[Subscriber]:
    async with connect(url, subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        subscriber = Subscriber(ws)
        init: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            init["payload"] = payload
        await subscriber.send(init)
        yield subscriber


async def closed_with(url: str, payload: dict[str, Any] | None) -> int | None:
    """The close code the server answers connection_init with (None if it acked)."""
    async with connected(url, payload) as subscriber:
        try:
            message = await subscriber.receive()
        except Exception:
            return subscriber.ws.close_code
        assert message["type"] == "connection_ack", message
        return None
