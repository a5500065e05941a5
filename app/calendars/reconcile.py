"""The reconcile sweep: what one connected calendar holds, compared with what was booked.

Per connection, the provider's incremental sync gives what changed since the last sweep
(Google `events.list` with the stored syncToken, Graph `calendarView/delta` with the stored
deltaLink); the first sweep, and any sweep whose position the provider has dropped (410),
lists the whole window instead. Then, for Roundtable's events:

- deleted by hand while the interview is booked: written again;
- moved by hand: put back at the booked time. Restoring rather than only reporting: the
  time was agreed with the candidate and the other participants, whose calendars and
  invites still say the booked time; a copy moved in one calendar changes the interview
  for nobody, so the calendar is brought back to the truth (a real change is a reschedule);
- copies made by hand (they carry the interview's reference line) and events of cancelled
  interviews: removed;
- an event the sync never confirmed: a sync of that interview is requested.

Every participant whose copy lives in the calendar gets its sync state and `sync_checked_at`
set; a refused token marks the connection broken, tells its owner, and fails those states,
so a revoked access shows within one sweep.
"""

from __future__ import annotations

import collections
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.calendars.base import (
    AuthExpired,
    CalendarClient,
    CalendarError,
    Changes,
    EventSpec,
    Gone,
    ProviderEvent,
    Retryable,
    Revoked,
    SyncTokenExpired,
    WrittenEvent,
    event_key,
)
from app.calendars.connections import client_for, token_cipher
from app.calendars.fallback import INVITE_MAILED, REVOKED, lose_connection
from app.calendars.sync import request_sync
from app.calendars.sync_plan import Action, Plan, Step, content_of, event_spec, reference_of
from app.calendars.tokens import TokenDecryptError
from app.config import Settings
from app.db import begin_write
from app.models import (
    CalendarConnection,
    CalendarEvent,
    CalendarEventState,
    ConnectionState,
    Interview,
    InterviewStatus,
    Participant,
)
from app.participants import state as sync_state

logger = logging.getLogger(__name__)

# Payload key of a calendar_sync outbox row that asks for one connection's reconcile.
RECONCILE_KEY = "reconcile_connection_id"
# The window compared: bookings lie within the request horizon (90 days) ahead.
LOOK_BACK = timedelta(days=1)
LOOK_AHEAD = timedelta(days=120)
REVOKED_REASON = INVITE_MAILED  # what a live copy's participant reads once mailed instead


@dataclass(frozen=True)
class _Recorded:
    """One of our calendar_events rows in this calendar, as read before the provider call."""

    event_id: uuid.UUID
    participant_id: uuid.UUID
    interview_id: uuid.UUID
    provider_event_id: str | None
    state: CalendarEventState
    live: bool  # the interview is booked: the event must be there, at the booked time
    spec: EventSpec | None  # what the event says, for live ones


@dataclass
class ReconcileResult:
    full: bool = False
    checked: int = 0
    restored: int = 0
    moved_back: int = 0
    removed: int = 0  # copies made by hand and events of cancelled interviews
    syncs_requested: int = 0
    failed: int = 0
    found: dict[str, int] = field(default_factory=dict)  # differences by repair kind
    broken: bool = False
    pending: bool = False  # the provider was busy: try again later
    retry_after: float | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class _Repair:
    kind: str  # "restore", "move", "remove"
    provider_event_id: str
    recorded: _Recorded | None = None
    written: WrittenEvent | None = None
    error: CalendarError | None = None


async def reconcile_connection(
    *,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    connection_id: uuid.UUID,
    clock: Callable[[], datetime],
    final_attempt: bool = False,
) -> ReconcileResult:
    result = ReconcileResult()
    now = clock()
    read = await _read(sessions, connection_id, now)
    if read is None:
        return result
    connection, recorded, statuses = read
    try:
        client = client_for(connection, settings)
    except TokenDecryptError as exc:
        await _broken(sessions, connection.id, recorded, str(exc), now, result)
        return result
    repairs: list[_Repair] = []
    need_sync: set[uuid.UUID] = set()
    try:
        changes = await _changes(client, connection.sync_token, now)
        result.full = changes.full
        repairs, need_sync = _decide(changes, recorded, statuses)
        result.found = dict(collections.Counter(r.kind for r in repairs))
        for repair in repairs:
            await _repair(client, repair)
    except Revoked as exc:
        await _broken(sessions, connection.id, recorded, str(exc), now, result)
        return result
    except (Retryable, AuthExpired) as exc:
        result.errors.append(f"{type(exc).__name__}: {exc}")
        if not final_attempt:
            result.pending = True
            result.retry_after = exc.retry_after if isinstance(exc, Retryable) else None
            return result
        result.failed += 1
        return result
    finally:
        client.close()
    await _record(
        sessions,
        connection.id,
        client,
        settings,
        recorded,
        repairs,
        need_sync,
        changes,
        now,
        result,
    )
    return result


async def _read(
    sessions: async_sessionmaker[AsyncSession], connection_id: uuid.UUID, now: datetime
) -> tuple[CalendarConnection, list[_Recorded], dict[uuid.UUID, InterviewStatus]] | None:
    async with sessions() as session:
        connection = await session.get(CalendarConnection, connection_id)
        if connection is None or connection.state is not ConnectionState.CONNECTED:
            await session.commit()
            return None
        rows = (
            await session.execute(
                select(CalendarEvent, Interview)
                .join(Interview, Interview.id == CalendarEvent.interview_id)
                .where(
                    CalendarEvent.connection_id == connection.id,
                    CalendarEvent.state != CalendarEventState.DELETED,
                )
            )
        ).all()
        recorded: list[_Recorded] = []
        statuses: dict[uuid.UUID, InterviewStatus] = {}
        for event, interview in rows:
            statuses[interview.id] = interview.status
            start, end = interview.booked_start, interview.booked_end
            live = interview.status is InterviewStatus.BOOKED and start is not None
            if (
                live
                and start is not None
                and end is not None
                and not (now - LOOK_BACK < end and start < now + LOOK_AHEAD)
            ):
                continue  # outside the window compared: neither listed nor checked
            spec = None
            if live:
                plan = Plan(
                    interview.id, await content_of(session, interview), interview.conference_url
                )
                key = event_key(interview.id, event.participant_id)
                step = Step(
                    event.id,
                    event.participant_id,
                    Action.UPDATE,
                    connection,
                    event.provider_event_id,
                    key,
                )
                spec = event_spec(plan, step)
            recorded.append(
                _Recorded(
                    event_id=event.id,
                    participant_id=event.participant_id,
                    interview_id=interview.id,
                    provider_event_id=event.provider_event_id,
                    state=event.state,
                    live=live,
                    spec=spec,
                )
            )
        session.expunge(connection)
        await session.commit()
    return connection, recorded, statuses


async def _changes(client: CalendarClient, token: str | None, now: datetime) -> Changes:
    window = {"start": now - LOOK_BACK, "end": now + LOOK_AHEAD}
    if token:
        try:
            return await client.changes(sync_token=token, **window)
        except SyncTokenExpired:
            logger.info("calendar sync position expired: listing the whole window")
    return await client.changes(sync_token=None, **window)


def _reference(event: ProviderEvent) -> uuid.UUID | None:
    return reference_of(event.text)


def _decide(
    changes: Changes,
    recorded: list[_Recorded],
    statuses: dict[uuid.UUID, InterviewStatus],
) -> tuple[list[_Repair], set[uuid.UUID]]:
    seen = {e.id: e for e in changes.events}
    ours = {r.provider_event_id for r in recorded if r.provider_event_id}
    repairs: list[_Repair] = []
    need_sync: set[uuid.UUID] = set()
    for row in recorded:
        event = seen.get(row.provider_event_id or "")
        if not row.live:
            # Cancelled, and the sync has not removed it (yet, or it failed): removed now,
            # whether or not it changed lately (a delete of a missing event counts as done).
            if row.provider_event_id:
                repairs.append(_Repair("remove", row.provider_event_id, row))
            continue
        if row.provider_event_id is None or row.state is not CalendarEventState.SYNCED:
            need_sync.add(row.interview_id)  # never confirmed: the sync writes it
            continue
        gone = event.removed if event is not None else changes.full
        assert row.spec is not None
        if gone:
            repairs.append(_Repair("restore", row.provider_event_id, row))
        elif event is not None and (event.start, event.end) != (row.spec.start, row.spec.end):
            repairs.append(_Repair("move", row.provider_event_id, row))
    for event in changes.events:
        if event.removed or event.id in ours:
            continue
        interview_id = _reference(event)
        if interview_id is not None and interview_id in statuses:
            # A copy of one of our events (made by hand): the recorded one is the copy kept.
            repairs.append(_Repair("remove", event.id))
    return repairs, need_sync


async def _repair(client: CalendarClient, repair: _Repair) -> None:
    spec = repair.recorded.spec if repair.recorded else None
    try:
        if repair.kind == "remove":
            try:
                await client.delete_event(repair.provider_event_id)
            except Gone:
                pass  # already removed: the goal is reached
        elif repair.kind == "restore":
            assert spec is not None
            repair.written = await client.restore_event(repair.provider_event_id, spec)
        else:
            assert spec is not None
            repair.written = await client.update_event(repair.provider_event_id, spec)
    except (Revoked, Retryable, AuthExpired):
        raise
    except CalendarError as exc:
        repair.error = exc


async def _record(
    sessions: async_sessionmaker[AsyncSession],
    connection_id: uuid.UUID,
    client: CalendarClient,
    settings: Settings,
    recorded: list[_Recorded],
    repairs: list[_Repair],
    need_sync: set[uuid.UUID],
    changes: Changes,
    now: datetime,
    result: ReconcileResult,
) -> None:
    failed: dict[uuid.UUID, str] = {}
    async with sessions() as session:
        await begin_write(session)
        for repair in repairs:
            row = repair.recorded
            if repair.error is not None:
                result.failed += 1
                message = f"{type(repair.error).__name__}: {repair.error}"
                result.errors.append(message)
                event = await session.get(CalendarEvent, row.event_id) if row else None
                if event is not None:
                    # Not SYNCED any more: the next sweep asks the sync to write it.
                    event.state = CalendarEventState.FAILED
                    event.last_error = message[:1000]
                if row is not None and row.live:
                    failed[row.participant_id] = (
                        f"the event was changed in the calendar and could not be repaired: "
                        f"{repair.error}"
                    )[:1000]
                continue
            if repair.kind == "remove":
                result.removed += 1
                if row is not None:
                    event = await session.get(CalendarEvent, row.event_id)
                    if event is not None:
                        event.state = CalendarEventState.DELETED
                        event.updated_at = now
                continue
            assert row is not None and repair.written is not None
            event = await session.get(CalendarEvent, row.event_id)
            if event is not None:
                event.provider_event_id = repair.written.provider_event_id
                event.synced_at = now
                event.updated_at = now
                event.last_error = (
                    "deleted by hand; written again"
                    if repair.kind == "restore"
                    else "moved by hand; put back at the booked time"
                )
            if repair.kind == "restore":
                result.restored += 1
            else:
                result.moved_back += 1
        for interview_id in sorted(need_sync):
            request_sync(session, interview_id)
            result.syncs_requested += 1
        for row in recorded:
            if not row.live:
                continue
            result.checked += 1
            participant = await session.get(Participant, row.participant_id)
            if participant is None:
                continue
            participant.sync_checked_at = now
            if row.participant_id in failed:
                sync_state.failed(participant, failed[row.participant_id])
            elif row.interview_id not in need_sync:
                sync_state.delivered(participant)
        connection = await session.get(CalendarConnection, connection_id)
        if connection is not None:
            if changes.sync_token:
                connection.sync_token = changes.sync_token
            connection.reconciled_at = now
            if client.tokens_changed:
                connection.token_ciphertext = token_cipher(settings.secret_key).encrypt(
                    client.tokens
                )
        await session.commit()


async def _broken(
    sessions: async_sessionmaker[AsyncSession],
    connection_id: uuid.UUID,
    recorded: list[_Recorded],
    reason: str,
    now: datetime,
    result: ReconcileResult,
) -> None:
    """The provider refused our tokens: the owner is told once, and what the calendar held
    goes by mail instead (app.calendars.fallback)."""
    result.broken = True
    result.errors.append(f"Revoked: {reason}")
    async with sessions() as session:
        await begin_write(session)
        await lose_connection(session, connection_id, reason=REVOKED, now=now)
        connection = await session.get(CalendarConnection, connection_id)
        if connection is not None:
            connection.reconciled_at = now
        for row in recorded:
            participant = await session.get(Participant, row.participant_id)
            if participant is not None and row.live:
                participant.sync_checked_at = now
        await session.commit()
