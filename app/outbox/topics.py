"""Every outbox topic: its name, and the handler a worker runs for each of its rows.

Adding a topic takes three lines: its name below; `@handles(NAME)` on an
`async def handle(message: ClaimedMessage, *, runtime: WorkerRuntime)` in its domain
(returning a note or a `Completion`, raising `app.outbox.errors` to retry or give up),
with `@records_failure(NAME)` on what a row that gave up leaves behind, if anything;
and that module in HANDLER_MODULES. Rows are then written with
`enqueue(session, topic=NAME, payload=...)`; the relay publishes them and every worker
declares an actor (queue = topic) for them.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from app.outbox.processing import FailureRecorder, Handler

MAIL_TOPIC = "mail"  # app.workers.mail: render and send one mail
SYNC_TOPIC = "calendar_sync"  # app.workers.calendar: bring an interview's calendar events in line
WEBHOOK_TOPIC = "webhook"  # app.webhooks.delivery: one event to one endpoint

# Imported when a worker builds its handlers: the outbox itself needs no domain.
HANDLER_MODULES = ("app.workers.mail", "app.workers.calendar", "app.webhooks.delivery")

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
_registry: dict[str, Callable[..., Awaitable[Any]]] = {}
# What a topic records when one of its rows fails without its handler saying so (every
# attempt died, or an unexpected error): `processing.FailureRecorder`.
_recorders: dict[str, Callable[..., Awaitable[Any]]] = {}


def handles(topic: str) -> Callable[[F], F]:
    """Register the decorated function as the handler of `topic`'s rows."""

    def register(handler: F) -> F:
        known = _registry.get(topic)
        if known is not None and known.__qualname__ != handler.__qualname__:
            raise ValueError(f"topic {topic!r} has a handler already: {known.__qualname__}")
        _registry[topic] = handler
        return handler

    return register


def records_failure(topic: str) -> Callable[[F], F]:
    """Register the decorated function as what `topic` records when a row gives up
    without its handler (so no participant stays PENDING)."""

    def register(recorder: F) -> F:
        _recorders[topic] = recorder
        return recorder

    return register


def _load() -> None:
    for module in HANDLER_MODULES:
        importlib.import_module(module)


def handlers(runtime: object) -> dict[str, Handler]:
    """Every registered topic's handler, bound to a worker's runtime."""
    _load()
    return {topic: partial(handler, runtime=runtime) for topic, handler in _registry.items()}


def failure_recorders() -> dict[str, FailureRecorder]:
    """Every registered topic's failure recorder."""
    _load()
    return dict(_recorders)


def names() -> frozenset[str]:
    _load()
    return frozenset(_registry)
