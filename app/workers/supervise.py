"""The process `roundtable worker` becomes: Dramatiq's own CLI, with one wait fixed.

    python -m app.workers.supervise app.workers.entry --processes 2 --threads 8

Before it watches its worker processes, Dramatiq's parent waits for each to say it booted
(up to --worker-fork-timeout, 30 s), so that the forks their middleware declares (the
Prometheus exposition of app/ops/worker_metrics.py) start after them. A worker killed while
booting never says so, and the parent sat out the whole timeout before noticing the death
and exiting. Here that wait also ends as soon as a worker process is gone; Dramatiq's own
loop then sees the death and stops the rest, as it does for any worker that dies.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import sys
import time
from types import ModuleType
from typing import Any

import dramatiq.cli

POLL_SECONDS = 0.1


class BootEvent(multiprocessing.synchronize.Event):
    """A worker's "booted" event whose wait gives up once fewer workers are alive than were
    started (all are started before the parent waits on any)."""

    expected = 0

    def __init__(self) -> None:
        super().__init__(ctx=multiprocessing.get_context())
        BootEvent.expected += 1

    def wait(self, timeout: float | None = None) -> bool:
        end = None if timeout is None else time.monotonic() + timeout
        while not super().wait(POLL_SECONDS):
            if len(multiprocessing.active_children()) < BootEvent.expected:
                return False  # a worker died before booting: stop waiting for it
            if end is not None and time.monotonic() >= end:
                return False
        return True


class _Multiprocessing(ModuleType):
    """`multiprocessing` as dramatiq.cli sees it: the same, but its events are BootEvents."""

    def __getattr__(self, name: str) -> Any:
        return getattr(multiprocessing, name)

    @staticmethod
    def Event() -> BootEvent:  # the name dramatiq.cli calls
        return BootEvent()


def main() -> int:
    dramatiq.cli.multiprocessing = _Multiprocessing("multiprocessing")  # type: ignore[attr-defined]
    result: int = dramatiq.cli.main()  # type: ignore[no-untyped-call]
    return result


if __name__ == "__main__":
    sys.exit(main())
