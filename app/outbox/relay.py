"""The outbox relay of an API process: publishes right after each commit, and periodically.

`wake()` is what the unit of work calls after a commit that wrote outbox rows; it only sets
an event, so a request never waits on the broker and a broker outage never fails a request.
The relay runs in its own thread with its own event loop and database engine.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Collection

from app.config import Settings
from app.db import create_engine, create_session_factory
from app.models import utcnow
from app.outbox.processing import Publish, publish_pending
from app.workers.options import WorkerOptions

logger = logging.getLogger(__name__)

MIN_RETRY_SECONDS = 0.5


class OutboxRelay:
    def __init__(
        self,
        *,
        settings: Settings,
        publish: Publish,
        topics: Collection[str],
        options: WorkerOptions,
    ) -> None:
        self.settings = settings
        self.publish = publish
        self.topics = frozenset(topics)
        self.options = options
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._stop.clear()
        self._wake.set()  # a first pass at start: rows left from before a restart
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        engine = create_engine(self.settings)
        sessions = create_session_factory(engine)
        retry_in = MIN_RETRY_SECONDS
        try:
            while not self._stop.is_set():
                self._wake.wait(self.options.sweep_interval_seconds)
                self._wake.clear()
                if self._stop.is_set():
                    break
                try:
                    while (
                        loop.run_until_complete(
                            publish_pending(
                                sessions=sessions,
                                publish=self.publish,
                                topics=self.topics,
                                options=self.options,
                                now=utcnow(),
                            )
                        )
                        >= self.options.sweep_batch
                    ):
                        pass  # a full batch: there may be more
                    retry_in = MIN_RETRY_SECONDS
                except Exception:
                    # The rows stay PENDING and unpublished: nothing is lost, only late.
                    logger.warning(
                        "outbox relay: publishing failed; trying again in %.1fs",
                        retry_in,
                        exc_info=True,
                    )
                    if self._stop.wait(retry_in):
                        break
                    retry_in = min(retry_in * 2, self.options.sweep_interval_seconds)
                    self._wake.set()
        finally:
            loop.run_until_complete(engine.dispose())
            loop.close()
