"""Delivering one calendar_sync outbox row, by what its payload names:

- `interview_id`: `calendars.sync.sync_interview`, idempotent;
- `reconcile_connection_id`: `calendars.reconcile.reconcile_connection` (the sweep);
- `disconnect_connection_id`: `calendars.disconnect.remove_connection_events`.
"""

from __future__ import annotations

import uuid

from sqlalchemy import exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.calendars.disconnect import DISCONNECT_KEY, remove_connection_events
from app.calendars.reconcile import RECONCILE_KEY, reconcile_connection
from app.calendars.sync import sync_interview
from app.models import (
    CalendarConnection,
    CalendarEvent,
    CalendarEventState,
    Participant,
    ParticipantKind,
    SyncState,
)
from app.ops.worker_metrics import record_reconcile
from app.outbox.errors import PermanentDeliveryError, TransientDeliveryError
from app.outbox.processing import ClaimedMessage
from app.outbox.topics import SYNC_TOPIC, handles, records_failure
from app.workers.runtime import WorkerRuntime


@handles(SYNC_TOPIC)
async def sync_calendars(message: ClaimedMessage, *, runtime: WorkerRuntime) -> str | None:
    final = message.attempts >= runtime.options.max_attempts
    if RECONCILE_KEY in message.payload:
        return await _reconcile(message, runtime, final=final)
    if DISCONNECT_KEY in message.payload:
        return await _disconnect(message, runtime, final=final)
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
    if result.disconnected:
        return f"{result.disconnected} copies mailed instead: calendar access revoked"
    return None


async def _reconcile(message: ClaimedMessage, runtime: WorkerRuntime, *, final: bool) -> str:
    result = await reconcile_connection(
        sessions=runtime.sessions,
        settings=runtime.settings,
        connection_id=uuid.UUID(str(message.payload[RECONCILE_KEY])),
        clock=runtime.clock,
        final_attempt=final,
    )
    record_reconcile(
        found=result.found,
        repaired={"restore": result.restored, "move": result.moved_back, "remove": result.removed},
    )
    reasons = "; ".join(result.errors)
    if result.pending:
        raise TransientDeliveryError(
            f"reconcile to retry: {reasons}", retry_after=result.retry_after
        )
    if result.broken:
        return f"calendar access revoked; reported: {reasons}"
    note = (
        f"reconciled ({'full' if result.full else 'incremental'}): {result.checked} checked, "
        f"{result.restored} written again, {result.moved_back} moved back, "
        f"{result.removed} removed, {result.syncs_requested} syncs requested"
    )
    if result.failed:
        raise PermanentDeliveryError(f"{note}; {result.failed} repairs failed: {reasons}")
    return note


async def _disconnect(message: ClaimedMessage, runtime: WorkerRuntime, *, final: bool) -> str:
    result = await remove_connection_events(
        sessions=runtime.sessions,
        settings=runtime.settings,
        connection_id=uuid.UUID(str(message.payload[DISCONNECT_KEY])),
        clock=runtime.clock,
        final_attempt=final,
    )
    if result.pending and not final:
        raise TransientDeliveryError(
            f"{result.pending} events to remove later: {'; '.join(result.errors)}",
            retry_after=result.retry_after,
        )
    return f"disconnected: {result.removed} events removed, {result.left} left in the calendar" + (
        f" ({'; '.join(result.errors)})" if result.errors else ""
    )


GAVE_UP = "the calendar could not be written; gave up after several attempts (an admin can retry)"


@records_failure(SYNC_TOPIC)
async def record_sync_given_up(session: AsyncSession, message: ClaimedMessage, _: str) -> int:
    """An interview's sync row failed without its handler recording it: members whose copy
    goes to a calendar and who are still PENDING are FAILED (see `outbox.FailureRecorder`).
    Members with no calendar wait for their invite mail, which settles them."""
    interview_id = message.payload.get("interview_id")
    disconnecting = message.payload.get(DISCONNECT_KEY)
    if disconnecting is not None:
        return await _disconnect_given_up(session, uuid.UUID(str(disconnecting)))
    if interview_id is None:
        return 0  # a reconcile row: no participant waits on it
    in_calendar = or_(
        exists().where(
            CalendarEvent.participant_id == Participant.id,
            CalendarEvent.state != CalendarEventState.DELETED,
        ),
        Participant.user_id.in_(select(CalendarConnection.user_id)),
    )
    result = await session.execute(
        update(Participant)
        .where(
            Participant.interview_id == uuid.UUID(str(interview_id)),
            Participant.kind == ParticipantKind.MEMBER,
            Participant.sync_state == SyncState.PENDING,
            in_calendar,
        )
        .values(sync_state=SyncState.FAILED, sync_error=GAVE_UP)
        .execution_options(synchronize_session=False)
    )
    changed: int = getattr(result, "rowcount", 0) or 0
    return changed


DISCONNECT_GAVE_UP = (
    "the calendar is being disconnected, but its events could not be removed; "
    "gave up after several attempts (an admin can retry)"
)


async def _disconnect_given_up(session: AsyncSession, connection_id: uuid.UUID) -> int:
    """A disconnect job that never finished: the members whose copies it was to settle, and
    who still wait (PENDING), are FAILED with what happened."""
    result = await session.execute(
        update(Participant)
        .where(
            Participant.id.in_(
                select(CalendarEvent.participant_id).where(
                    CalendarEvent.connection_id == connection_id
                )
            ),
            Participant.sync_state == SyncState.PENDING,
        )
        .values(sync_state=SyncState.FAILED, sync_error=DISCONNECT_GAVE_UP)
        .execution_options(synchronize_session=False)
    )
    changed: int = getattr(result, "rowcount", 0) or 0
    return changed
