"""The broker is chosen by URL; every one runs async actors on the AsyncIO middleware."""

from __future__ import annotations

import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO

from app.workers.broker import create_broker
from app.workers.options import WorkerOptions


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("", StubBroker),
        ("redis://127.0.0.1:6379/15", RedisBroker),
        ("amqp://guest:guest@127.0.0.1:5672/", RabbitmqBroker),
    ],
)
def test_broker_by_url(url: str, kind: type) -> None:
    broker = create_broker(url, WorkerOptions(namespace="roundtable-test-choice"))
    try:
        assert isinstance(broker, kind)
        assert any(isinstance(m, AsyncIO) for m in broker.middleware)
    finally:
        broker.close()


def test_unknown_broker_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="redis:// or amqp://"):
        create_broker("kafka://127.0.0.1:9092")


def test_backoff_doubles_is_capped_and_honours_retry_after() -> None:
    options = WorkerOptions(min_backoff_seconds=15, max_backoff_seconds=100)
    assert [options.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [15, 30, 60, 100]
    assert options.backoff(1, retry_after=90).total_seconds() == 90
