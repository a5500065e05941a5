"""What a worker process counts: deliveries per topic, its last sweep, reconcile drift.

In `roundtable worker` these land in the worker's own exposition (Dramatiq's Prometheus
middleware, `WorkerMetrics` below, on `dramatiq_prom_port`, 9191 by default) beside
Dramatiq's message counters; in `roundtable serve` the worker runs inside the API process,
so they are on its `/metrics`. The outbox's depth and oldest age per topic are read from
the database by every API's `/metrics` (app/ops/metrics.py): they say whether the workers
keep up, whichever process is asked.

`roundtable worker` sets PROMETHEUS_MULTIPROC_DIR (and `dramatiq_prom_db`) to a fresh
directory before any import: prometheus-client decides at import whether values go to
files that the exposition process sums.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any

from dramatiq.middleware.prometheus import Prometheus
from prometheus_client import Counter, Gauge, Histogram

from app.ops.metrics import LATENCY_BUCKETS

logger = logging.getLogger(__name__)

OUTBOX_DELIVERIES = Counter(
    "roundtable_outbox_deliveries_total",
    "Delivery attempts of outbox rows by topic and outcome "
    "(DONE, RETRY, FAILED, DEFERRED: waiting for something else; SKIPPED: done or taken).",
    ["topic", "outcome"],
)
OUTBOX_DELIVERY_SECONDS = Histogram(
    "roundtable_outbox_delivery_seconds",
    "Time of one delivery attempt, by topic.",
    ["topic"],
    buckets=LATENCY_BUCKETS,
)
LAST_SWEEP = Gauge(
    "roundtable_worker_last_sweep_timestamp_seconds",
    "When a worker process last finished its sweep (due reminders, reconciles, missed rows).",
    multiprocess_mode="livemax",
)
RECONCILE_FOUND = Counter(
    "roundtable_reconcile_drift_found_total",
    "Differences between a connected calendar and the bookings, by kind "
    "(deleted, moved, extra: copies by hand or events of cancelled interviews).",
    ["kind"],
)
RECONCILE_REPAIRED = Counter(
    "roundtable_reconcile_drift_repaired_total",
    "Differences repaired in the calendar, by kind.",
    ["kind"],
)

# What the reconcile calls a repair, and the drift it repairs.
DRIFT_OF_REPAIR = {"restore": "deleted", "move": "moved", "remove": "extra"}


def record_delivery(topic: str, outcome: str, started: float) -> None:
    """`started` is a `time.perf_counter()` reading taken before the attempt."""
    OUTBOX_DELIVERIES.labels(topic, outcome).inc()
    OUTBOX_DELIVERY_SECONDS.labels(topic).observe(time.perf_counter() - started)


def record_sweep() -> None:
    LAST_SWEEP.set_to_current_time()


def record_reconcile(*, found: Mapping[str, int], repaired: Mapping[str, int]) -> None:
    """Both by repair kind ("restore", "move", "remove")."""
    for kind, count in found.items():
        if count:
            RECONCILE_FOUND.labels(DRIFT_OF_REPAIR.get(kind, kind)).inc(count)
    for kind, count in repaired.items():
        if count:
            RECONCILE_REPAIRED.labels(DRIFT_OF_REPAIR.get(kind, kind)).inc(count)


class WorkerMetrics(Prometheus):
    """Dramatiq's Prometheus middleware, silent until a `dramatiq` worker process boots
    with PROMETHEUS_MULTIPROC_DIR set (as `roundtable worker` starts them).

    The broker module is also used by the embedded worker of `roundtable serve` and by the
    tests, where no process boots and no exposition server is forked: there its hooks do
    nothing (the parent's would fail on counters it never made).
    """

    def __init__(self) -> None:
        super().__init__()
        self.booted = False

    @property
    def forks(self) -> list[Any]:
        return super().forks if self.booted else []

    def after_process_boot(self, broker: Any) -> None:
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Counters made before the variable was set live in this process only: an
            # exposition would show none of them. `roundtable worker` sets it first.
            logger.warning(
                "worker metrics off: PROMETHEUS_MULTIPROC_DIR is not set "
                "(start workers with `roundtable worker`)"
            )
            return
        super().after_process_boot(broker)  # type: ignore[no-untyped-call]
        self.booted = True

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        if self.booted:
            super().after_worker_shutdown(broker, worker)  # type: ignore[no-untyped-call]

    def after_nack(self, broker: Any, message: Any) -> None:
        if self.booted:
            super().after_nack(broker, message)  # type: ignore[no-untyped-call]

    def after_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        if self.booted:
            super().after_enqueue(broker, message, delay)  # type: ignore[no-untyped-call]

    def before_delay_message(self, broker: Any, message: Any) -> None:
        if self.booted:
            super().before_delay_message(broker, message)  # type: ignore[no-untyped-call]

    def before_process_message(self, broker: Any, message: Any) -> None:
        if self.booted:
            super().before_process_message(broker, message)  # type: ignore[no-untyped-call]

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        if self.booted:
            super().after_process_message(broker, message, result=result, exception=exception)  # type: ignore[no-untyped-call]

    after_skip_message = after_process_message
