"""RabbitMQ works by URL: an async actor receives what is sent through a real RabbitMQ."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator

import dramatiq
import pytest

from app.workers.broker import create_broker
from app.workers.options import WorkerOptions
from tests.services import require_service

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"


@pytest.fixture
def rabbitmq_broker() -> Iterator[dramatiq.Broker]:
    require_service("RabbitMQ", "127.0.0.1", 5672)
    broker = create_broker(RABBITMQ_URL, WorkerOptions())
    try:
        yield broker
    finally:
        broker.close()


def test_an_async_actor_runs_a_message_sent_through_rabbitmq(
    rabbitmq_broker: dramatiq.Broker,
) -> None:
    queue = f"roundtable-test-{uuid.uuid4().hex[:8]}"
    received: list[str] = []
    done = threading.Event()

    async def record(value: str) -> None:
        await asyncio.sleep(0)  # runs on the AsyncIO middleware's loop
        received.append(value)
        done.set()

    actor = dramatiq.actor(
        record, broker=rabbitmq_broker, queue_name=queue, actor_name=f"record_{queue}"
    )
    worker = dramatiq.Worker(rabbitmq_broker, worker_timeout=100, worker_threads=1)
    worker.start()
    try:
        actor.send("hello over amqp")
        assert done.wait(timeout=30), "the message never arrived"
        assert received == ["hello over amqp"]
    finally:
        worker.stop()
        for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):  # the queue and its delay/dead queues
            rabbitmq_broker.channel.queue_delete(name)  # type: ignore[attr-defined]
