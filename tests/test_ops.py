"""What operators watch: liveness, readiness, metrics, request ids and log lines."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.db import create_engine, create_session_factory
from app.main import create_app
from app.migrate import upgrade
from app.models import Interview, OutboxMessage, utcnow
from app.ops.graphql_metrics import MAX_NAMES, operation_label
from app.ops.logs import JsonFormatter, RequestIdFilter, bound_request_id, request_id
from app.outbox.processing import ClaimedMessage, process_outbox_message
from app.scheduling.windows import WindowText
from app.workers.background import Background
from app.workers.options import WorkerOptions
from tests.conftest import Clock, GraphQLClient, make_settings
from tests.factories import World, make_interview, make_world
from tests.workers.conftest import NEVER_HOURS, all_done, eventually, mail_rows, outbox_rows
from tests.workers.smtp import free_port

WINDOWS = [
    WindowText("2026-03-05T09:00", "2026-03-05T10:00"),
    WindowText("2026-03-06T09:00", "2026-03-06T09:30"),
]
START = "2026-03-05T09:00:00+00:00"
BOOK = """mutation Book($input: BookInterviewInput!) { bookInterview(input: $input) {
  interview { id status } errors { code } } }"""


async def get(app_settings: Settings, path: str, engine: AsyncEngine | None = None) -> httpx.Response:
    own = create_engine(app_settings) if engine is None else None
    app = create_app(app_settings, engine=engine or own)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://roundtable.test"
        ) as http:
            return await http.get(path)
    finally:
        if own is not None:
            await own.dispose()


async def test_livez_answers_without_touching_the_database(tmp_path: Path) -> None:
    # A database that does not exist: the process is still alive.
    settings = make_settings(f"sqlite:///{tmp_path}/missing/dir/none.db")
    response = await get(settings, "/livez")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_ready_checks_the_database_and_its_migrations(
    settings: Settings, engine: AsyncEngine
) -> None:
    response = await get(settings, "/ready", engine)
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}


async def test_ready_is_not_ready_when_the_database_is_behind_its_migrations(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    await asyncio.to_thread(upgrade, url, "0001")
    response = await get(make_settings(url), "/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"].startswith("migrations not at head (at 0001)")


async def test_ready_and_health_are_not_ready_when_the_database_is_unreachable() -> None:
    settings = make_settings(f"postgresql://nobody@127.0.0.1:{free_port()}/none")
    for path in ("/ready", "/health"):
        response = await get(settings, path)
        assert response.status_code == 503
        assert response.json()["checks"]["database"].startswith("unreachable")


async def test_ready_checks_the_broker(settings: Settings, engine: AsyncEngine) -> None:
    down = settings.model_copy(update={"broker_url": f"redis://127.0.0.1:{free_port()}/0"})
    response = await get(down, "/ready", engine)
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "broker": "unreachable: ConnectionRefusedError"}


async def test_a_request_id_is_returned_and_a_plain_given_one_is_kept(
    client: httpx.AsyncClient,
) -> None:
    made = await client.get("/livez")
    assert len(made.headers["x-request-id"]) == 32
    given = await client.get("/livez", headers={"X-Request-ID": "lb-1234.abc"})
    assert given.headers["x-request-id"] == "lb-1234.abc"
    # Anything that could forge a log line is replaced, never echoed.
    hostile = await client.get("/livez", headers={"X-Request-ID": "a b\tc" + "x" * 200})
    assert hostile.headers["x-request-id"] != "a b\tc" + "x" * 200
    assert len(hostile.headers["x-request-id"]) == 32


async def test_the_request_id_reaches_the_outbox_row_and_the_workers_log_lines(
    gql: GraphQLClient,
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    clock: Clock,
) -> None:
    world = await make_world(session)
    interview = await make_interview(session, settings, world.a, clock.now, windows=WINDOWS, time_zone="UTC")
    start = START
    response = await gql.http.post(
        "/graphql",
        json={"query": BOOK, "variables": {"input": {"interviewId": str(interview.id), "start": start, "timeZone": "UTC"}}},
        headers={"Authorization": f"Bearer {world.token(world.a.candidate)}", "X-Request-ID": "book-42"},
    )
    assert response.json()["data"]["bookInterview"]["errors"] == []
    rows = list(await session.scalars(select(OutboxMessage)))
    await session.commit()
    booked_rows = [r for r in rows if r.payload.get("request_id") == "book-42"]
    assert booked_rows, "no outbox row carries the booking's request id"
    assert all(r.payload.get("request_id") in (None, "book-42") for r in rows)

    seen: list[str | None] = []

    async def handler(message: ClaimedMessage) -> None:
        logging.getLogger("roundtable.test").info("delivering")
        seen.append(request_id.get())

    row = booked_rows[0]
    await process_outbox_message(
        sessions=create_session_factory(engine),
        handlers={row.topic: handler},
        message_id=row.id,
        options=WorkerOptions(),
        clock=utcnow,  # rows are due by the real clock
    )
    assert seen == ["book-42"]


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text, 0 when it is not there (yet)."""
    for family in text_string_to_metric_families(metrics):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0


async def test_metrics_show_the_booking_the_outbox_and_the_delivery(
    gql: GraphQLClient,
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    world = await make_world(session)
    interview = await make_interview(session, settings, world.a, clock.now, windows=WINDOWS, time_zone="UTC")
    await session.commit()
    before = (await gql.http.get("/metrics")).text
    body = await gql(
        BOOK,
        {"input": {"interviewId": str(interview.id), "start": START, "timeZone": "UTC"}},
        token=world.token(world.a.candidate),
    )
    assert body["data"]["bookInterview"]["errors"] == []
    booked = (await gql.http.get("/metrics")).text
    assert sample(booked, "roundtable_interviews", status="BOOKED") == 1
    # candidate, team, account manager: waiting in the outbox, the oldest of them aged
    assert sample(booked, "roundtable_outbox_messages", topic="mail", status="PENDING") >= 3
    assert 'roundtable_outbox_oldest_pending_seconds{topic="mail"}' in booked
    assert sample(booked, "roundtable_graphql_operations_total", operation="Book", type="mutation", outcome="ok") >= 1
    assert sample(booked, "roundtable_http_requests_total", method="POST", route="/graphql", status="200") >= 1
    assert sample(booked, "roundtable_graphql_operation_seconds_count", operation="Book", type="mutation") >= 1

    # The embedded worker (`roundtable serve`'s) delivers them, mail into .eml files.
    worker_settings = settings.model_copy(
        update={"mail_dir": tmp_path, "reminder_after_hours": NEVER_HOURS}
    )
    background = Background(
        worker_settings, in_process_worker=True, options=WorkerOptions(sweep_interval_seconds=0.2)
    )
    await asyncio.to_thread(background.start)
    try:
        await eventually(all_done(engine), what="the booking's mails delivered")
    finally:
        await asyncio.to_thread(background.stop)
    rows = mail_rows(await outbox_rows(engine))
    delivered = (await gql.http.get("/metrics")).text
    assert sample(delivered, "roundtable_outbox_messages", topic="mail", status="DONE") == len(rows)
    assert sample(delivered, "roundtable_outbox_messages", topic="mail", status="PENDING") == 0
    assert 'roundtable_outbox_oldest_pending_seconds{topic="mail"}' not in delivered
    done = "roundtable_outbox_deliveries_total"
    assert sample(delivered, done, topic="mail", outcome="DONE") - sample(before, done, topic="mail", outcome="DONE") == len(rows)


def test_operation_names_cannot_grow_the_metrics_without_bound() -> None:
    labels = {operation_label(f"Op{uuid.uuid4().hex[:8]}") for _ in range(MAX_NAMES + 50)}
    assert "other" in labels
    assert len(labels) <= MAX_NAMES + 1
    assert operation_label("drop table;--") == "other"
    assert operation_label(None) == "anonymous"


def test_json_log_lines_carry_the_request_id() -> None:
    record = logging.LogRecord("roundtable.x", logging.INFO, __file__, 1, "booked %s", ("it",), None)
    with bound_request_id("req-7"):
        RequestIdFilter().filter(record)
    line: dict[str, Any] = json.loads(JsonFormatter().format(record))
    assert (line["message"], line["request_id"], line["level"]) == ("booked it", "req-7", "INFO")


async def test_interviews_gauge_counts_by_status(
    session: AsyncSession, settings: Settings, clock: Clock, client: httpx.AsyncClient
) -> None:
    world: World = await make_world(session)
    for _ in range(2):
        await make_interview(session, settings, world.a, clock.now)
    assert await session.scalar(select(Interview.id).limit(1)) is not None
    await session.commit()
    metrics = (await client.get("/metrics")).text
    assert 'roundtable_interviews{status="PENDING"} 2.0' in metrics
