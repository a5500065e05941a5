"""The Dramatiq broker chosen by URL: Redis, RabbitMQ, or in-process for the embedded default."""

from __future__ import annotations

from urllib.parse import urlsplit

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO

from app.ops.tracing import WorkerTracing
from app.ops.worker_metrics import WorkerMetrics
from app.workers.options import WorkerOptions


def create_broker(url: str, options: WorkerOptions | None = None) -> dramatiq.Broker:
    """Empty URL: an in-memory broker; the outbox table keeps the durability it lacks."""
    options = options or WorkerOptions()
    scheme = urlsplit(url).scheme if url else ""
    broker: dramatiq.Broker
    if scheme in {"redis", "rediss"}:
        broker = RedisBroker(url=url, namespace=options.namespace)  # type: ignore[no-untyped-call]
    elif scheme in {"amqp", "amqps"}:
        broker = RabbitmqBroker(url=url)
    elif not url:
        broker = StubBroker()
    else:
        raise ValueError(f"unsupported broker URL scheme {scheme!r}: use redis:// or amqp://")
    # Actors are `async def`: this middleware runs them on its own loop in its own thread.
    broker.add_middleware(AsyncIO())
    # Dramatiq's Prometheus exposition in `dramatiq` worker processes (app/ops/worker_metrics).
    broker.add_middleware(WorkerMetrics())
    broker.add_middleware(WorkerTracing())  # OTEL_* traces in `dramatiq` worker processes
    return broker
