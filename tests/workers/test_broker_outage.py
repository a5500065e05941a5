"""The broker is unreachable while a booking commits: the booking succeeds, mail goes later."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import dramatiq
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.access import load_viewer
from app.config import Settings
from app.db import begin_write
from app.main import create_app
from app.models import OutboxStatus
from app.scheduling import booking
from app.workers.actors import Periodic, declare_actors
from app.workers.background import Background
from app.workers.broker import create_broker
from app.workers.options import WorkerOptions
from app.workers.runtime import WorkerRuntime
from tests.conftest import Clock, GraphQLClient
from tests.factories import make_interview, make_world
from tests.workers.conftest import all_done, eventually, mail_rows, outbox_rows
from tests.workers.proxy import TcpProxy
from tests.workers.smtp import SmtpServer

BOOK = """
mutation ($input: BookInterviewInput!) {
  bookInterview(input: $input) { interview { status } errors { code message } }
}
"""


@pytest.fixture
def proxy(redis_url: str) -> Iterator[TcpProxy]:
    parts = urlsplit(redis_url)
    link = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379)
    link.up()
    yield link
    link.close()


@pytest.fixture
async def worker(
    worker_settings: Settings, options: WorkerOptions, clean_db: None
) -> AsyncIterator[dramatiq.Worker]:
    """A worker process's consumers, on Redis directly (only the API's link is cut)."""
    broker = create_broker(worker_settings.broker_url, options)
    actors = declare_actors(broker, WorkerRuntime(worker_settings, options))
    broker.add_middleware(Periodic(actors, run_sweeps=False))  # disposes its engine at stop
    consumer = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    await asyncio.to_thread(consumer.start)
    yield consumer
    await asyncio.to_thread(consumer.stop)
    broker.close()


@pytest.fixture
async def api(
    engine: AsyncEngine,
    worker_settings: Settings,
    options: WorkerOptions,
    proxy: TcpProxy,
    clock: Clock,
    clean_db: None,
) -> AsyncIterator[GraphQLClient]:
    """An API process whose relay reaches Redis through the proxy."""
    parts = urlsplit(worker_settings.broker_url)
    through_proxy = urlunsplit(parts._replace(netloc=f"127.0.0.1:{proxy.port}"))
    settings = worker_settings.model_copy(update={"broker_url": through_proxy})
    relay = Background(settings, in_process_worker=False, options=options)
    app = create_app(settings, engine=engine, clock=clock, on_outbox_written=relay.wake)
    await asyncio.to_thread(relay.start)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://roundtable.test"
        ) as http:
            yield GraphQLClient(http)
    finally:
        await asyncio.to_thread(relay.stop)


async def test_booking_commits_while_the_broker_is_down_and_mails_go_out_after(
    session: AsyncSession,
    engine: AsyncEngine,
    worker_settings: Settings,
    clock: Clock,
    proxy: TcpProxy,
    worker: dramatiq.Worker,
    api: GraphQLClient,
    smtp: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="app.outbox.relay")
    proxy.down()
    await begin_write(session)
    world = await make_world(session)
    await begin_write(session)
    interview = await make_interview(session, worker_settings, world.a, clock.now)
    slots = await booking.available_slots(
        session=session,
        viewer=await load_viewer(session, world.a.candidate),
        settings=worker_settings,
        interview_id=interview.id,
        time_zone="UTC",
        now=clock.now,
    )
    await session.commit()
    start = slots.days[0].slots[0].start

    booked = await api(
        BOOK,
        {
            "input": {
                "interviewId": str(interview.id),
                "start": start.isoformat(),
                "timeZone": "UTC",
            }
        },
        token=world.token(world.a.candidate),
    )
    assert booked["data"]["bookInterview"] == {"interview": {"status": "BOOKED"}, "errors": []}

    async def relay_failed() -> bool:
        return any("publishing failed" in r.getMessage() for r in caplog.records)

    await eventually(relay_failed, what="the relay tried the unreachable broker")
    rows = mail_rows(await outbox_rows(engine))
    assert {r.status for r in rows} == {OutboxStatus.PENDING}
    assert smtp.handler.messages() == [], "nothing reached the broker, nothing was sent"

    proxy.up()
    await eventually(all_done(engine), what="every mail delivered once the broker is back")
    rows = mail_rows(await outbox_rows(engine))
    assert any(r.payload["kind"] == "INTERVIEW_BOOKED" for r in rows)
    assert sorted(smtp.handler.message_ids().values()) == [1] * len(rows)
