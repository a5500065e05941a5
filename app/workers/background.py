"""Background work inside a server process: the relay, and the embedded in-process worker.

`roundtable serve` (and `roundtable api` without a broker URL) start a Dramatiq worker in
daemon threads of the server process, on the in-memory broker when no URL is set. The
outbox rows, not the broker, are what survives a restart: the relay's first pass and the
periodic sweep publish whatever was left pending.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

import dramatiq

from app.config import Settings
from app.live.changes import Change
from app.notifications.delivery import MailTransport
from app.outbox.relay import OutboxRelay
from app.workers.actors import Actors, Periodic, declare_actors
from app.workers.broker import create_broker
from app.workers.options import WorkerOptions
from app.workers.runtime import WorkerRuntime


class Background:
    def __init__(
        self,
        settings: Settings,
        *,
        in_process_worker: bool,
        options: WorkerOptions | None = None,
        transport: MailTransport | None = None,
        live_sink: Callable[[Sequence[Change]], None] | None = None,
    ) -> None:
        self.options = options or WorkerOptions()
        self.broker = create_broker(settings.broker_url, self.options)
        runtime = WorkerRuntime(settings, self.options, transport, live_sink=live_sink)
        self.actors: Actors = declare_actors(self.broker, runtime)
        self.relay = OutboxRelay(
            settings=settings,
            publish=self.actors.publish,
            topics=self.actors.by_topic.keys(),
            options=self.options,
        )
        self.in_process_worker = in_process_worker
        self.worker: dramatiq.Worker | None = None

    def wake(self) -> None:
        """The unit of work's after-commit callback."""
        self.relay.wake()

    def start(self) -> None:
        if self.in_process_worker:
            self.broker.add_middleware(Periodic(self.actors))
            self.worker = dramatiq.Worker(
                self.broker, worker_threads=self.options.embedded_threads, worker_timeout=100
            )
            self.worker.start()
        self.relay.start()

    def stop(self) -> None:
        self.relay.stop()
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        self.broker.close()

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        await asyncio.to_thread(self.start)
        try:
            yield
        finally:
            await asyncio.to_thread(self.stop)
