"""Thin Dramatiq actors around the plain async functions, and each worker's periodic sweep.

`declare_actors` binds one actor per outbox topic (queue = topic) to a given broker, so the
production worker, the embedded worker and the tests each build their own set.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import Middleware

from app.calendars.reconcile_schedule import request_due_reconciles
from app.ops.worker_metrics import record_delivery, record_sweep
from app.outbox import topics
from app.outbox.processing import Outcome, process_outbox_message, publish_pending
from app.workers.reminders import send_due_reminders
from app.workers.runtime import WorkerRuntime

logger = logging.getLogger(__name__)


@dataclass
class Actors:
    broker: dramatiq.Broker
    runtime: WorkerRuntime
    by_topic: Mapping[str, dramatiq.Actor[Any, Any]]

    def publish(self, topic: str, message_id: uuid.UUID) -> None:
        self.by_topic[topic].send(str(message_id))


def declare_actors(broker: dramatiq.Broker, runtime: WorkerRuntime) -> Actors:
    handlers = topics.handlers(runtime)
    options = runtime.options

    def make(topic: str) -> dramatiq.Actor[Any, Any]:
        async def process(message_id: str) -> None:
            started = time.perf_counter()
            result = await process_outbox_message(
                sessions=runtime.sessions,
                handlers=handlers,
                message_id=uuid.UUID(message_id),
                options=options,
                clock=runtime.clock,
                on_failed=topics.failure_recorders(),
            )
            record_delivery(topic, result.outcome.value, started)
            if result.retry_in is None:
                return
            delay = int(result.retry_in / timedelta(milliseconds=1))
            if result.outcome is Outcome.RETRY:
                raise dramatiq.Retry(delay=delay)
            if result.outcome is Outcome.DEFERRED:
                # A wait, not a failure: a fresh message, so Dramatiq's retry budget is
                # not spent on it (the row's attempts are not either).
                actor = broker.get_actor(f"outbox_{topic}")
                await asyncio.to_thread(actor.send_with_options, args=(message_id,), delay=delay)

        process.__name__ = f"outbox_{topic}"
        decorate = dramatiq.actor(
            broker=broker,
            actor_name=f"outbox_{topic}",
            queue_name=topic,
            # Attempts are counted on the outbox row; these retries only cover the rare
            # crash outside it (the database down while finishing).
            max_retries=options.max_attempts,
            min_backoff=int(options.min_backoff_seconds * 1000),
            max_backoff=int(options.max_backoff_seconds * 1000),
        )
        return decorate(process)

    return Actors(broker, runtime, {topic: make(topic) for topic in handlers})


async def sweep(actors: Actors) -> tuple[int, int]:
    """Due reminders and calendar reconciles first (their rows are then published in the
    same pass), then missed rows."""
    runtime = actors.runtime
    now = runtime.clock()
    reminded = await send_due_reminders(
        sessions=runtime.sessions,
        reminder_after=timedelta(hours=runtime.settings.reminder_after_hours),
        now=now,
    )
    if runtime.settings.calendar_reconcile_minutes:
        # Queued as calendar_sync rows, published below like any other.
        await request_due_reconciles(
            sessions=runtime.sessions,
            period=timedelta(minutes=runtime.settings.calendar_reconcile_minutes),
            now=now,
        )
    published = await publish_pending(
        sessions=runtime.sessions,
        publish=actors.publish,
        topics=actors.by_topic.keys(),
        options=runtime.options,
        now=runtime.clock(),
    )
    record_sweep()
    return reminded, published


class Periodic(Middleware):
    """Runs `sweep` every interval in each worker process, on the AsyncIO middleware's loop.

    Both halves are safe with any number of workers (conditional UPDATE claims), so there
    is no leader to elect. The runtime's engine is disposed on that loop at shutdown.
    """

    def __init__(self, actors: Actors, *, run_sweeps: bool = True) -> None:
        self.actors = actors
        self.run_sweeps = run_sweeps
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if not self.run_sweeps:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="outbox-sweep", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        loop_thread = get_event_loop_thread()
        if loop_thread is not None:
            loop_thread.run_coroutine(self.actors.runtime.close())

    def _loop(self) -> None:
        interval = self.actors.runtime.options.sweep_interval_seconds
        while True:
            loop_thread = get_event_loop_thread()
            if loop_thread is not None:
                try:
                    reminded, published = loop_thread.run_coroutine(sweep(self.actors))
                    if reminded or published:
                        logger.info("sweep: %d reminded, %d published", reminded, published)
                except Exception:
                    logger.warning("sweep failed; trying again in %ss", interval, exc_info=True)
            if self._stop.wait(interval):
                return
