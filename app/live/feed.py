"""The pub/sub that carries changes to every API process's subscriptions.

PostgreSQL: one LISTEN connection per API process on channel `roundtable_changes`; a
process publishes with NOTIFY on that connection after its commit, and every process
(itself included) hears it and hands it to its local subscribers. SQLite, the embedded
default, is one process: an in-process fan-out. Each subscriber has a bounded queue; a
subscriber too slow to keep up loses the oldest changes, never blocks the others.

Changes carry ids only: each subscription reads the row and checks the viewer's access
when it delivers (app.schema.subscriptions), so nothing private travels on the channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from app.config import Settings
from app.live.changes import Change, notify_payloads

logger = logging.getLogger(__name__)

CHANNEL = "roundtable_changes"
QUEUE_SIZE = 1000
RECONNECT_SECONDS = 1.0
CONNECT_TIMEOUT_SECONDS = 5.0


class Feed:
    """In-process fan-out; the base of the PostgreSQL feed."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Change]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    def publish_threadsafe(self, changes: Sequence[Change]) -> None:
        """From another thread (the embedded worker's): delivered on the server's loop."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._deliver, list(changes))

    async def stop(self) -> None:
        pass

    async def publish(self, changes: Sequence[Change]) -> None:
        self._deliver(changes)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Change]]:
        queue: asyncio.Queue[Change] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._queues)

    def _deliver(self, changes: Sequence[Change]) -> None:
        for queue in list(self._queues):
            for change in changes:
                if queue.full():
                    queue.get_nowait()  # the slowest subscriber loses its oldest change
                    logger.warning("live updates: a subscriber fell behind; dropped a change")
                queue.put_nowait(change)


class PostgresFeed(Feed):
    def __init__(self, dsn: str) -> None:
        super().__init__()
        self.dsn = dsn
        self._connection: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._stopping = False
        self._reconnect: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await super().start()
        self._stopping = False
        try:
            await self._connect()
        except (OSError, asyncpg.PostgresError) as exc:
            # The API starts without its database too (/ready says so): listen once it is up.
            logger.warning("live updates: cannot LISTEN yet (%s); retrying", exc)
            self._reconnect = asyncio.get_running_loop().create_task(self._reconnect_loop())

    async def stop(self) -> None:
        self._stopping = True
        if self._reconnect is not None:
            self._reconnect.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnect
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(Exception):
                await connection.close(timeout=5)

    async def publish(self, changes: Sequence[Change]) -> None:
        if self._connection is None:
            # Not started (an app without its lifespan) or reconnecting: this process's own
            # subscribers still hear it; others catch up on their next event or query.
            self._deliver(changes)
            return
        async with self._lock:
            for payload in notify_payloads(changes):
                await self._connection.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)

    async def _connect(self) -> None:
        connection = await asyncpg.connect(self.dsn, timeout=CONNECT_TIMEOUT_SECONDS)
        await connection.add_listener(CHANNEL, self._heard)
        connection.add_termination_listener(self._lost)
        self._connection = connection

    def _heard(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            changes = [Change.from_json(item) for item in json.loads(payload)]
        except (ValueError, KeyError, TypeError):
            logger.warning("live updates: unreadable notification %r", payload[:200])
            return
        self._deliver(changes)

    def _lost(self, _connection: Any) -> None:
        self._connection = None
        if not self._stopping:
            logger.warning("live updates: the LISTEN connection closed; reconnecting")
            self._reconnect = asyncio.get_running_loop().create_task(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        while not self._stopping:
            try:
                await self._connect()
                logger.info("live updates: listening again")
                return
            except (OSError, asyncpg.PostgresError):
                await asyncio.sleep(RECONNECT_SECONDS)


def create_feed(settings: Settings) -> Feed:
    if settings.is_sqlite:
        return Feed()
    return PostgresFeed(
        settings.async_database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    )
