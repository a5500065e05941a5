"""OpenTelemetry traces: off by default; when on, a booking and its deliveries are one trace."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.db import create_engine
from app.main import create_app
from app.ops import tracing
from app.ops.logs import JsonFormatter, RequestIdFilter
from app.workers.background import Background
from app.workers.options import WorkerOptions
from tests.conftest import Clock, GraphQLClient
from tests.factories import make_interview, make_world
from tests.test_ops import BOOK, START, WINDOWS
from tests.workers.conftest import NEVER_HOURS, all_done, eventually, mail_rows, outbox_rows


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.start_tracing("roundtable-test", processor=SimpleSpanProcessor(exporter))
    yield exporter
    tracing.stop_tracing()
    exporter.shutdown()


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "x"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, False),
    ],
)
def test_traces_are_off_unless_the_otel_variables_ask(environ: dict[str, str], on: bool) -> None:
    assert tracing.configured(environ) is on


def test_without_otel_variables_nothing_is_traced_or_carried() -> None:
    assert not tracing.start_tracing("roundtable-test")
    assert not tracing.enabled()
    assert tracing.schema_extensions() == []
    assert tracing.with_trace_context({"to": "a@example.com"}) == {"to": "a@example.com"}


def _trace_of(spans: list[ReadableSpan], name: str) -> int:
    found = [s for s in spans if s.name == name]
    assert found, f"no span {name!r} among {sorted({s.name for s in spans})}"
    assert found[0].context is not None
    return found[0].context.trace_id


async def test_a_booking_and_the_workers_deliveries_of_its_mails_are_one_trace(
    spans: InMemorySpanExporter,
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    world = await make_world(session)
    interview = await make_interview(
        session, settings, world.a, clock.now, windows=WINDOWS, time_zone="UTC"
    )
    await session.commit()
    traced_engine = create_engine(settings)  # made with traces on, like the app
    app = create_app(settings, engine=traced_engine, clock=clock)
    try:
        async with GraphQLClient.on(app) as gql:
            body = await gql(
                BOOK,
                {"input": {"interviewId": str(interview.id), "start": START, "timeZone": "UTC"}},
                token=world.token(world.a.candidate),
            )
    finally:
        await traced_engine.dispose()
    assert body["data"]["bookInterview"]["errors"] == []
    finished = list(spans.get_finished_spans())
    booking = _trace_of(finished, "GraphQL Book")
    server = [s for s in finished if s.kind is SpanKind.SERVER and s.name.startswith("POST")]
    assert server and all(s.context is not None for s in server)
    assert booking in {s.context.trace_id for s in server if s.context is not None}
    statements = [s for s in finished if s.attributes and "db.statement" in s.attributes]
    assert any(s.context is not None and s.context.trace_id == booking for s in statements)

    # The embedded worker delivers the mails, on its own thread and event loop.
    background = Background(
        settings.model_copy(update={"mail_dir": tmp_path, "reminder_after_hours": NEVER_HOURS}),
        in_process_worker=True,
        options=WorkerOptions(sweep_interval_seconds=0.2),
    )
    await asyncio.to_thread(background.start)
    try:
        await eventually(all_done(engine), what="the booking's mails delivered")
    finally:
        await asyncio.to_thread(background.stop)
    mails = mail_rows(await outbox_rows(engine))
    deliveries = {
        str(s.attributes["messaging.message.id"]): s
        for s in spans.get_finished_spans()
        if s.name == "outbox mail" and s.attributes and s.context is not None
    }
    assert set(deliveries) == {str(row.id) for row in mails}
    assert all(s.kind is SpanKind.CONSUMER for s in deliveries.values())
    # The booking's mails (candidate, team, account manager) continue the booking's trace;
    # the rows the factory wrote outside any request begin traces of their own.
    booked = [row for row in mails if tracing.TRACE_KEY in row.payload]
    assert len(booked) >= 3
    for row in booked:
        delivery = deliveries[str(row.id)]
        assert delivery.context is not None and delivery.context.trace_id == booking
        assert delivery.parent is not None and delivery.parent.trace_id == booking


def test_json_log_lines_name_the_current_trace(spans: InMemorySpanExporter) -> None:
    record = logging.LogRecord("roundtable.x", logging.INFO, __file__, 1, "booked", (), None)
    with trace.get_tracer("test").start_as_current_span("work") as span:
        RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    outside = logging.LogRecord("roundtable.x", logging.INFO, __file__, 1, "idle", (), None)
    RequestIdFilter().filter(outside)
    assert "trace_id" not in json.loads(JsonFormatter().format(outside))


async def test_statements_outside_any_request_or_delivery_make_no_trace_of_their_own(
    spans: InMemorySpanExporter, settings: Settings
) -> None:
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 41"))  # a sweep's, a relay's
            with trace.get_tracer("test").start_as_current_span("delivery"):
                await connection.execute(text("SELECT 42"))
    finally:
        await engine.dispose()
    statements = {
        str(s.attributes.get("db.statement")) for s in spans.get_finished_spans() if s.attributes
    }
    assert "SELECT 42" in statements
    assert "SELECT 41" not in statements
