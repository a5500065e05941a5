"""A worker's health check: has it swept lately? For container health checks and probes.

    python -m app.ops.worker_health [--url http://127.0.0.1:9191/] [--max-age 120]

Reads the worker's own Prometheus exposition (Dramatiq's, on `dramatiq_prom_port`) and
exits 0 when a worker process of it finished a sweep within `--max-age` seconds, 1 with
the reason otherwise. A sweep runs every ROUNDTABLE_WORKER_SWEEP_INTERVAL_SECONDS (15), so
a stale one means the worker's loop, its database or its broker is stuck.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.request
from collections.abc import Sequence

from prometheus_client.parser import text_string_to_metric_families

LAST_SWEEP = "roundtable_worker_last_sweep_timestamp_seconds"


def last_sweep(url: str, timeout: float = 5.0) -> float | None:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        text = answer.read().decode()
    values = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == LAST_SWEEP
    ]
    return max(values) if values else None


def check(url: str, max_age: float, now: float) -> str | None:
    """None when healthy, else what is wrong."""
    try:
        swept = last_sweep(url)
    except OSError as exc:
        return f"no metrics at {url}: {exc}"
    if not swept:
        return "no sweep finished yet"
    if now - swept > max_age:
        return f"last sweep {now - swept:.0f} s ago (more than {max_age:g} s)"
    return None


def main(argv: Sequence[str] | None = None) -> None:
    port = os.environ.get("dramatiq_prom_port", "9191")
    parser = argparse.ArgumentParser(prog="python -m app.ops.worker_health")
    parser.add_argument("--url", default=f"http://127.0.0.1:{port}/")
    parser.add_argument("--max-age", type=float, default=120.0, help="seconds")
    args = parser.parse_args(argv)
    problem = check(args.url, args.max_age, time.time())
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        raise SystemExit(1)
    print("healthy")


if __name__ == "__main__":
    main()
