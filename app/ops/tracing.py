"""OpenTelemetry traces: off unless the standard OTEL_* variables ask for them.

On when `OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `console`) or an OTLP endpoint is
set (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`); never when
`OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. OTLP goes over HTTP/protobuf; the
SDK reads the rest itself (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
`OTEL_TRACES_SAMPLER`, `OTEL_EXPORTER_OTLP_HEADERS`, ...).

What is traced: each HTTP request (Starlette), each GraphQL operation with its parsing and
validation (Strawberry's extension, without its per-field spans, so the cost of a request
does not grow with its fields), each SQL statement (SQLAlchemy), each calendar provider
call and the `requests` calls under it, and each outbox delivery. The context of the
request that wrote an outbox row travels in the row (W3C `traceparent`), so a booking and
the worker's deliveries of its mails are one trace.

When off, nothing is installed and the hooks below cost a flag test.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dramatiq.middleware import Middleware
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

if TYPE_CHECKING:
    from dramatiq import Broker, Worker
    from opentelemetry.sdk.trace import SpanProcessor
    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.applications import Starlette
    from strawberry.extensions import SchemaExtension

logger = logging.getLogger(__name__)

# Outbox payload key of the carried context (a dict of W3C trace context headers).
TRACE_KEY = "trace"
# Probes and scrapes would be most of the traces: left out unless the variable says otherwise.
DEFAULT_EXCLUDED_URLS = "livez,ready,health,metrics"

_enabled = False


def configured(environ: Mapping[str, str]) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def enabled() -> bool:
    return _enabled


def _exporter_processor() -> SpanProcessor:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    names = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if names == "console":
        return BatchSpanProcessor(ConsoleSpanExporter())
    if names != "otlp":
        raise ValueError(f"OTEL_TRACES_EXPORTER: use otlp, console or none, not {names!r}")
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    )
    if protocol not in {"", "http/protobuf"}:
        raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL: only http/protobuf, not {protocol!r}")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return BatchSpanProcessor(OTLPSpanExporter())


def start_tracing(service_name: str, *, processor: SpanProcessor | None = None) -> bool:
    """Install the tracer provider of this process, if the environment asks for one (or a
    test hands a processor). Returns whether traces are on."""
    global _enabled
    if _enabled:
        return True
    if processor is None:
        if not configured(os.environ):
            return False
        processor = _exporter_processor()
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        current.add_span_processor(processor)  # started before in this process (tests)
    else:
        name = os.environ.get("OTEL_SERVICE_NAME") or service_name
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        provider.sampler = NoLoneClientSpans(provider.sampler)  # OTEL_TRACES_SAMPLER's
        provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
    os.environ.setdefault("OTEL_PYTHON_STARLETTE_EXCLUDED_URLS", DEFAULT_EXCLUDED_URLS)
    instrumentor = RequestsInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()  # O365 (Microsoft Graph) and OAuth token exchanges
    _enabled = True
    logger.info("OpenTelemetry traces on for %s", service_name)
    return True


class NoLoneClientSpans(Sampler):
    """Drops calls out (SQL statements, HTTP) made outside any traced request or delivery:
    the relay's and the sweeps' statements would otherwise be one trace each, every few
    seconds. Everything else is the configured sampler's decision."""

    def __init__(self, inner: Sampler) -> None:
        self.inner = inner

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        parent = trace.get_current_span(parent_context).get_span_context()
        if kind is SpanKind.CLIENT and not parent.is_valid:
            return SamplingResult(Decision.DROP)
        return self.inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"NoLoneClientSpans{{{self.inner.get_description()}}}"


def stop_tracing() -> None:
    """Flush what is waiting and stop tracing what starts from now on."""
    global _enabled
    if not _enabled:
        return
    _enabled = False
    provider = trace.get_tracer_provider()
    flush = getattr(provider, "force_flush", None)
    if flush is not None:
        flush()
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    RequestsInstrumentor().uninstrument()


def instrument_app(app: Starlette) -> None:
    if _enabled:
        from opentelemetry.instrumentation.starlette import StarletteInstrumentor

        StarletteInstrumentor.instrument_app(app)


def instrument_engine(engine: AsyncEngine) -> AsyncEngine:
    if _enabled:
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
        from opentelemetry.instrumentation.sqlalchemy.version import __version__
        from opentelemetry.metrics import get_meter

        # What SQLAlchemyInstrumentor does for each engine it sees created.
        name = "opentelemetry.instrumentation.sqlalchemy"
        usage = get_meter(name, __version__).create_up_down_counter(
            "db.client.connections.usage", unit="connections"
        )
        tracer = trace.get_tracer(name, __version__)
        EngineTracer(tracer, engine.sync_engine, usage)  # type: ignore[no-untyped-call]
    return engine


def schema_extensions() -> list[type[SchemaExtension]]:
    if not _enabled:
        return []
    from app.ops.graphql_tracing import OperationSpans

    return [OperationSpans]


def with_trace_context(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload of an outbox row, carrying the current trace context when tracing."""
    if not _enabled:
        return payload
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {**payload, TRACE_KEY: carrier} if carrier else payload


@contextlib.contextmanager
def delivery_span(
    *, topic: str, message_id: uuid.UUID, attempt: int, payload: Mapping[str, Any]
) -> Iterator[None]:
    """The worker's span for one delivery attempt, continuing the trace of the row's request."""
    if not _enabled:
        yield
        return
    carried = payload.get(TRACE_KEY)
    parent = propagate.extract(carried) if isinstance(carried, dict) else None
    with trace.get_tracer(__name__).start_as_current_span(
        f"outbox {topic}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "roundtable-outbox",
            "messaging.destination.name": topic,
            "messaging.message.id": str(message_id),
            "roundtable.outbox.attempt": attempt,
        },
    ):
        yield


@contextlib.contextmanager
def provider_span(provider: str) -> Iterator[None]:
    if not _enabled:
        yield
        return
    with trace.get_tracer(__name__).start_as_current_span(
        f"calendar {provider}", kind=SpanKind.CLIENT, attributes={"peer.service": provider}
    ):
        yield


class WorkerTracing(Middleware):
    """Tracing in each `dramatiq` worker process (the only place a process boots), flushed
    when it stops: a worker process ends without running atexit handlers."""

    def after_process_boot(self, broker: Broker) -> None:
        start_tracing("roundtable-worker")

    def after_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        stop_tracing()
