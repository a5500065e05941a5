"""Worker fixtures: a real Redis broker namespace, a real SMTP server, a worker in-process."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import create_session_factory
from app.models import OutboxMessage, OutboxStatus
from app.workers.background import Background
from app.workers.options import WorkerOptions
from tests.conftest import make_settings
from tests.services import REDIS_URL, require_service
from tests.workers.smtp import SmtpServer

# Reminders are due 24 h after the request by the real clock, and the tests' interviews are
# requested at the fixed test clock (months ago): keep the sweeps from reminding them.
NEVER_HOURS = 24 * 365 * 50


@pytest.fixture(autouse=True)
def _postgres_only(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres_only") is None:
        return
    if "database_url" in request.fixturenames:
        url = request.getfixturevalue("database_url")
        if not url.startswith("postgres"):
            pytest.skip("runs once, on PostgreSQL")


@pytest.fixture
def redis_url() -> str:
    parts = urlsplit(REDIS_URL)
    require_service("Redis", parts.hostname or "127.0.0.1", parts.port or 6379)
    return REDIS_URL


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    """Each test's queues under their own key prefix, removed afterwards."""
    name = f"roundtable-test-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(f"{name}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def options(namespace: str) -> WorkerOptions:
    return WorkerOptions(
        namespace=namespace,
        min_backoff_seconds=0.05,
        max_backoff_seconds=0.2,
        sweep_interval_seconds=0.2,
        republish_after_seconds=60,
        lease_seconds=60,
        max_attempts=4,
        embedded_threads=2,
    )


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def worker_settings(database_url: str, redis_url: str, smtp: SmtpServer) -> Settings:
    return make_settings(
        database_url,
        broker_url=redis_url,
        smtp_url=smtp.url,
        reminder_after_hours=NEVER_HOURS,
        public_url="https://roundtable.example.com",
    )


@pytest.fixture
async def background(
    worker_settings: Settings, options: WorkerOptions, clean_db: None
) -> AsyncIterator[Background]:
    """The relay plus a Dramatiq worker on the real Redis broker, in this process."""
    bg = Background(worker_settings, in_process_worker=True, options=options)
    await asyncio.to_thread(bg.start)
    yield bg
    await asyncio.to_thread(bg.stop)


async def eventually(
    check: Callable[[], Awaitable[bool]], *, what: str, deadline_seconds: float = 30
) -> None:
    """Wait for a condition; the deadline only stops a broken test from hanging."""
    end = time.monotonic() + deadline_seconds
    while not await check():
        if time.monotonic() > end:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.05)


async def outbox_rows(engine: AsyncEngine) -> list[OutboxMessage]:
    async with create_session_factory(engine)() as session:
        rows = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at)))
        await session.commit()
        return rows


def all_done(engine: AsyncEngine) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        rows = await outbox_rows(engine)
        failed = [r.last_error for r in rows if r.status is OutboxStatus.FAILED]
        assert not failed, f"outbox rows failed: {failed}"
        return bool(rows) and all(r.status is OutboxStatus.DONE for r in rows)

    return check


def mail_rows(rows: list[OutboxMessage]) -> list[OutboxMessage]:
    return [r for r in rows if r.topic == "mail"]


def payloads(rows: list[OutboxMessage]) -> list[dict[str, Any]]:
    return [dict(r.payload) for r in rows]
