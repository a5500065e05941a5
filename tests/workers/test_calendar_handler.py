"""The calendar-sync topic: provider trouble becomes outbox retries honouring Retry-After."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from app.calendars.sync import SyncResult
from app.config import Settings
from app.notifications.delivery import PermanentDeliveryError, TransientDeliveryError
from app.workers import calendar
from app.workers.options import WorkerOptions
from app.workers.outbox import ClaimedMessage
from app.workers.runtime import WorkerRuntime
from tests.conftest import SECRET


def claimed(attempts: int) -> ClaimedMessage:
    return ClaimedMessage(
        id=uuid.uuid4(),
        topic="calendar_sync",
        payload={"interview_id": str(uuid.uuid4())},
        created_at=datetime.now(UTC),
        attempts=attempts,
    )


@pytest.fixture
def runtime() -> WorkerRuntime:
    settings = Settings(database_url="sqlite:///unused.db", secret_key=SECRET)
    return WorkerRuntime(settings, WorkerOptions(max_attempts=3))


def fake_sync(result: SyncResult, calls: list[dict[str, Any]]) -> Any:
    async def sync_interview(**kwargs: Any) -> SyncResult:
        calls.append(kwargs)
        return result

    return sync_interview


async def test_writes_to_retry_raise_a_transient_error_with_retry_after(
    runtime: WorkerRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    result = SyncResult(pending=2, retry_after=45.0, errors=["google: 429"])
    monkeypatch.setattr(calendar, "sync_interview", fake_sync(result, calls))
    with pytest.raises(TransientDeliveryError) as caught:
        await calendar.sync_calendars(claimed(1), runtime=runtime)
    assert caught.value.retry_after == 45.0
    assert "google: 429" in caught.value.reason
    assert calls[0]["final_attempt"] is False


async def test_the_last_attempt_records_failures_and_fails_the_row(
    runtime: WorkerRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    result = SyncResult(failed=1, errors=["outlook: 503"])
    monkeypatch.setattr(calendar, "sync_interview", fake_sync(result, calls))
    with pytest.raises(PermanentDeliveryError, match="outlook: 503"):
        await calendar.sync_calendars(claimed(3), runtime=runtime)
    assert calls[0]["final_attempt"] is True


async def test_a_clean_pass_is_done(
    runtime: WorkerRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(calendar, "sync_interview", fake_sync(SyncResult(written=2), calls))
    assert await calendar.sync_calendars(claimed(1), runtime=runtime) is None
