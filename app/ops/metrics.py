"""Prometheus metrics on `/metrics`.

Counted in the process: HTTP requests and GraphQL operations (by name, with latency and
error codes) and calls to the calendar providers. Read from the database at each scrape,
so every API process answers the same: interviews by status, and per outbox topic the
rows waiting, the age of the oldest, and those delivered and failed.

With several API processes (`roundtable api --workers N`) the in-process figures are kept
in prometheus-client's multiprocess directory (PROMETHEUS_MULTIPROC_DIR) and summed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.models import Interview, OutboxMessage, OutboxStatus
from app.ops.tracing import provider_span

T = TypeVar("T")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_REQUESTS = Counter(
    "roundtable_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "roundtable_http_request_seconds",
    "Time to answer an HTTP request.",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
GRAPHQL_OPERATIONS = Counter(
    "roundtable_graphql_operations_total",
    "GraphQL operations executed, by name, type and outcome (ok or the first error code).",
    ["operation", "type", "outcome"],
)
GRAPHQL_LATENCY = Histogram(
    "roundtable_graphql_operation_seconds",
    "Time to execute a GraphQL operation.",
    ["operation", "type"],
    buckets=LATENCY_BUCKETS,
)
PROVIDER_CALLS = Counter(
    "roundtable_provider_calls_total", "Calls to calendar providers.", ["provider", "status"]
)
PROVIDER_LATENCY = Histogram(
    "roundtable_provider_call_seconds",
    "Time of a call to a calendar provider.",
    ["provider"],
    buckets=LATENCY_BUCKETS,
)


async def observed_provider_call(provider: str, call: Awaitable[T]) -> T:
    """Await one provider call, counted by its outcome ("ok" or the error's kind)."""
    started, status = time.perf_counter(), "error"
    try:
        with provider_span(provider):
            result = await call
        status = "ok"
        return result
    except Exception as exc:
        status = type(exc).__name__
        raise
    finally:
        PROVIDER_CALLS.labels(provider, status).inc()
        PROVIDER_LATENCY.labels(provider).observe(time.perf_counter() - started)


class HttpMetricsMiddleware:
    """Requests by route template (never the raw path: ids would explode the labels)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    @staticmethod
    def _route(scope: Scope) -> str:
        app = scope.get("app")
        for route in getattr(app, "routes", []):
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return str(getattr(route, "path", "other"))
        return "other"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route, started, status = self._route(scope), time.perf_counter(), 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_LATENCY.labels(route).observe(time.perf_counter() - started)


async def database_families(
    engine: AsyncEngine, now: Callable[[], datetime]
) -> list[GaugeMetricFamily]:
    async with engine.connect() as connection:
        by_status = (
            await connection.execute(
                select(Interview.status, func.count()).group_by(Interview.status)
            )
        ).all()
        outbox = (
            await connection.execute(
                select(
                    OutboxMessage.topic,
                    OutboxMessage.status,
                    func.count(),
                    func.min(OutboxMessage.created_at),
                ).group_by(OutboxMessage.topic, OutboxMessage.status)
            )
        ).all()
    interviews = GaugeMetricFamily(
        "roundtable_interviews", "Interviews by status (BOOKED: bookings).", labels=["status"]
    )
    for interview_status, count in by_status:
        interviews.add_metric([str(getattr(interview_status, "value", interview_status))], count)
    rows = GaugeMetricFamily(
        "roundtable_outbox_messages",
        "Outbox rows by topic and status (DONE: delivered, FAILED: given up).",
        labels=["topic", "status"],
    )
    oldest = GaugeMetricFamily(
        "roundtable_outbox_oldest_pending_seconds",
        "Age of the oldest row still waiting for delivery, by topic.",
        labels=["topic"],
    )
    current = now()
    for topic, status, count, first in outbox:
        status_name = str(getattr(status, "value", status))
        rows.add_metric([topic, status_name], count)
        if status_name == OutboxStatus.PENDING.value and first is not None:
            first = first if first.tzinfo else first.replace(tzinfo=current.tzinfo)
            oldest.add_metric([topic], max((current - first).total_seconds(), 0.0))
    return [interviews, rows, oldest]


class _Families:
    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> list[GaugeMetricFamily]:
        return self.families


def metrics_endpoint(
    engine: AsyncEngine, now: Callable[[], datetime]
) -> Callable[[Request], object]:
    async def metrics(_: Request) -> Response:
        registry = CollectorRegistry()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            body = generate_latest(registry)
        else:
            from prometheus_client import REGISTRY

            body = generate_latest(REGISTRY)
        registry = CollectorRegistry()
        registry.register(_Families(await database_families(engine, now)))
        body += generate_latest(registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return metrics
