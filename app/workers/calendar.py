"""Delivering one calendar-sync outbox row: `calendars.sync.sync_interview`, idempotent."""

from __future__ import annotations

import uuid

from app.calendars.sync import sync_interview
from app.notifications.delivery import PermanentDeliveryError, TransientDeliveryError
from app.workers.outbox import ClaimedMessage
from app.workers.runtime import WorkerRuntime


async def sync_calendars(message: ClaimedMessage, *, runtime: WorkerRuntime) -> str | None:
    final = message.attempts >= runtime.options.max_attempts
    result = await sync_interview(
        sessions=runtime.sessions,
        settings=runtime.settings,
        interview_id=uuid.UUID(str(message.payload["interview_id"])),
        clock=runtime.clock,
        final_attempt=final,
    )
    reasons = "; ".join(result.errors) or "provider busy"
    if result.pending and not final:
        # Providers' 429/5xx: another pass later, no sooner than their Retry-After.
        raise TransientDeliveryError(
            f"{result.pending} calendar writes to retry: {reasons}",
            retry_after=result.retry_after,
        )
    if result.failed:
        # Each failure is also on the participant's sync state; admins may retry the row.
        raise PermanentDeliveryError(f"{result.failed} calendar writes failed: {reasons}")
    return None
