"""Tuning of the outbox and the workers, from ROUNDTABLE_WORKER_* environment variables.

Kept apart from `app.config.Settings` because only worker and relay processes read them;
the defaults suit production, tests and the benchmark shorten the waits.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkerOptions(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUNDTABLE_WORKER_", extra="ignore")

    # A claimed row is left alone by other workers this long; renewed every third of it
    # while the work goes on, so a dead worker's rows are free again within one lease.
    lease_seconds: float = Field(default=20, gt=0)
    # Deliveries tried before a row is marked FAILED (admins can retry it).
    max_attempts: int = Field(default=8, ge=1)
    min_backoff_seconds: float = Field(default=15, gt=0)
    max_backoff_seconds: float = Field(default=3600, gt=0)
    # How often each relay and worker process sweeps for missed rows and due reminders.
    sweep_interval_seconds: float = Field(default=15, gt=0)
    # A due row nobody has claimed for this long is published again (a lost broker message,
    # a dead worker): lease + this + one sweep interval bounds recovery (50 s by default).
    republish_after_seconds: float = Field(default=15, ge=0)
    sweep_batch: int = Field(default=500, ge=1)
    # Redis key prefix: several deployments (or test runs) can share one Redis.
    namespace: str = "roundtable"
    processes: int = Field(default=2, ge=1)
    threads: int = Field(default=8, ge=1)
    # Concurrent deliveries of the in-process worker of the embedded default.
    embedded_threads: int = Field(default=4, ge=1)

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds)

    @property
    def republish_after(self) -> timedelta:
        return timedelta(seconds=self.republish_after_seconds)

    def backoff(self, attempt: int, retry_after: float | None = None) -> timedelta:
        """Exponential from min_backoff, capped; never sooner than the server asked."""
        seconds = min(self.min_backoff_seconds * 2 ** max(attempt - 1, 0), self.max_backoff_seconds)
        if retry_after is not None:
            seconds = max(seconds, retry_after)
        return timedelta(seconds=seconds)
