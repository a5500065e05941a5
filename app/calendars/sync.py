"""Bringing the connected calendars of an interview's members in line with the interview.

`sync_interview` is the plain async function a worker actor wraps: it reads what should be
in each member's calendar (the booked interview, or nothing once cancelled), writes the
difference through the provider clients, and records every write in `calendar_events`
(provider, event id, state, last error) and in the participant's sync state.

No database transaction is held across a provider call: the plan is read and its rows made
in one short transaction, each provider write is then recorded in its own. Running it twice
(at-least-once delivery) is safe: creates use deterministic ids, recorded events are only
updated, deletes of missing events count as done.

The requesting member's copy is written first and creates the conference (Meet or Teams);
the interview then shows that link, and the other copies carry it in their description.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.calendars.base import (
    AlreadyExists,
    AuthExpired,
    CalendarClient,
    CalendarError,
    EventSpec,
    Gone,
    Retryable,
    Revoked,
    WrittenEvent,
)
from app.calendars.conference import settle_conference
from app.calendars.connections import client_for, token_cipher
from app.calendars.fallback import REVOKED, lose_connection, mail_instead
from app.calendars.sync_plan import (
    Action,
    Plan,
    Step,
    event_spec,
    make_plan,
    reference_of,
)
from app.calendars.tokens import TokenDecryptError, TokenSet
from app.config import Settings
from app.db import begin_write
from app.models import (
    CalendarConnection,
    CalendarEvent,
    CalendarEventState,
    Interview,
    InterviewStatus,
    Participant,
    SyncState,
)
from app.outbox.enqueue import enqueue
from app.outbox.topics import SYNC_TOPIC
from app.participants import state as sync_state
from app.webhooks.events import emit_sync_failed

logger = logging.getLogger(__name__)

MAX_ERROR = 1000

# Outbox topic of "bring this interview's calendar events in line"; payload: interview_id.


def request_sync(session: AsyncSession, interview_id: uuid.UUID) -> None:
    """Ask for a sync in the transaction of the change (book, cancel, move) that needs it.

    One row per change; the worker's handler runs `sync_interview`, which is idempotent, so
    several rows for one interview cost a few reads, never a duplicate event.
    """
    enqueue(session, topic=SYNC_TOPIC, payload={"interview_id": str(interview_id)})


@dataclass
class SyncResult:
    written: int = 0
    deleted: int = 0
    failed: int = 0
    # Copies whose calendar refused us for good: mailed instead (app.calendars.fallback).
    disconnected: int = 0
    # Writes to retry later (provider busy or down); the caller schedules another run.
    pending: int = 0
    retry_after: float | None = None
    errors: list[str] = field(default_factory=list)


async def sync_interview(
    *,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    interview_id: uuid.UUID,
    clock: Callable[[], datetime],
    final_attempt: bool = False,
) -> SyncResult:
    """One pass over the interview's calendar events.

    With `final_attempt`, writes that could only be retried are recorded as FAILED instead
    of staying PENDING.
    """
    plan = await make_plan(sessions, interview_id, clock())
    result = SyncResult()
    if plan is None:
        return result
    waiting_for_conference = False
    for step in plan.steps:
        if waiting_for_conference and step.action is not Action.DELETE:
            # Written in a later pass, once the copy carrying the conference link exists.
            result.pending += 1
            continue
        outcome = await _perform(step, event_spec(plan, step), settings, plan.interview_id)
        if step.create_conference:
            if outcome.written and outcome.written.conference_url:
                plan.conference_url = outcome.written.conference_url
            waiting_for_conference = _retryable(outcome.error) and not final_attempt
        await _record(
            sessions,
            plan,
            step,
            outcome,
            settings=settings,
            result=result,
            final_attempt=final_attempt,
            now=clock(),
        )
    return result


# -- writing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    written: WrittenEvent | None
    error: CalendarError | None
    refreshed: TokenSet | None  # new tokens to store, if the client refreshed them


async def _targets(client: CalendarClient, step: Step, interview_id: uuid.UUID) -> list[str]:
    """The provider events a delete removes: the recorded one, or those found carrying the
    interview's reference (an Outlook create whose answer was lost)."""
    if step.provider_event_id is not None:
        return [step.provider_event_id]
    if step.search is None:
        return []
    window = timedelta(minutes=1)
    listed = await client.changes(
        sync_token=None, start=step.search.start - window, end=step.search.end + window
    )
    return [e.id for e in listed.events if not e.removed and reference_of(e.text) == interview_id]


async def _perform(
    step: Step, spec: EventSpec | None, settings: Settings, interview_id: uuid.UUID
) -> Outcome:
    try:
        client = client_for(step.connection, settings)
    except TokenDecryptError as exc:
        return Outcome(None, Revoked(str(exc)), None)
    written: WrittenEvent | None = None
    error: CalendarError | None = None
    try:
        if step.action is Action.DELETE:
            for target in await _targets(client, step, interview_id):
                try:
                    await client.delete_event(target)
                except Gone:
                    pass  # already removed: the goal is reached
            written = WrittenEvent(provider_event_id=step.provider_event_id or "")
        elif step.action is Action.CREATE:
            assert spec is not None
            written = await client.create_event(spec)
        else:
            assert spec is not None and step.provider_event_id is not None
            written = await client.update_event(step.provider_event_id, spec)
    except CalendarError as exc:
        error = exc
    finally:
        client.close()
    return Outcome(written, error, client.tokens if client.tokens_changed else None)


async def _record(
    sessions: async_sessionmaker[AsyncSession],
    plan: Plan,
    step: Step,
    outcome: Outcome,
    *,
    settings: Settings,
    result: SyncResult,
    final_attempt: bool,
    now: datetime,
) -> None:
    async with sessions() as session:
        # A writer from the start: on SQLite a read that later writes cannot take the lock
        # while another sync (the worker's other threads) writes, and fails at once.
        await begin_write(session)
        event = await session.get(CalendarEvent, step.event_id)
        participant = await session.get(Participant, step.participant_id)
        connection = await session.get(CalendarConnection, step.connection.id)
        if event is None or participant is None:
            return  # removed meanwhile: nothing to record
        if connection is not None and outcome.refreshed is not None:
            connection.token_ciphertext = token_cipher(settings.secret_key).encrypt(
                outcome.refreshed
            )
        event.attempts += 1
        event.updated_at = now
        if outcome.error is None:
            assert outcome.written is not None
            _succeeded(plan, step, event, participant, outcome.written, result, now)
            interview = await session.get(Interview, plan.interview_id)
            if step.action is not Action.DELETE and (
                interview is None
                or interview.status is not InterviewStatus.BOOKED
                or (plan.content and interview.ical_sequence > plan.content.sequence)
            ):
                # Cancelled or moved while we wrote: another pass brings the event in line.
                event.state = CalendarEventState.PENDING
                result.pending += 1
            elif interview is not None and step.create_conference:
                # The provider's link, or (none given) the fallback: mails may go now.
                await settle_conference(
                    session,
                    interview,
                    url=outcome.written.conference_url,
                    provider=step.connection.provider,
                )
        else:
            if step.create_conference and (final_attempt or not _retryable(outcome.error)):
                interview = await session.get(Interview, plan.interview_id)
                if interview is not None:
                    await settle_conference(session, interview)  # gave up: the fallback
            await _failed(
                session,
                step,
                event,
                participant,
                connection,
                outcome.error,
                now,
                result=result,
                final_attempt=final_attempt,
            )
            if participant.sync_state is SyncState.FAILED:
                await emit_sync_failed(session, plan.interview_id, participant)
        await session.commit()


def _succeeded(
    plan: Plan,
    step: Step,
    event: CalendarEvent,
    participant: Participant,
    written: WrittenEvent,
    result: SyncResult,
    now: datetime,
) -> None:
    if step.action is Action.DELETE:
        event.state = CalendarEventState.DELETED
        result.deleted += 1
    else:
        event.state = CalendarEventState.SYNCED
        event.provider_event_id = written.provider_event_id
        event.sequence = plan.content.sequence if plan.content else event.sequence
        event.synced_at = now
        result.written += 1
    event.last_error = None
    sync_state.delivered(participant)


async def _failed(
    session: AsyncSession,
    step: Step,
    event: CalendarEvent,
    participant: Participant,
    connection: CalendarConnection | None,
    error: CalendarError,
    now: datetime,
    *,
    result: SyncResult,
    final_attempt: bool,
) -> None:
    message = f"{type(error).__name__}: {error}"[:MAX_ERROR]
    event.last_error = message
    result.errors.append(message)
    if isinstance(error, Revoked) and connection is not None:
        # The calendar is out of reach for good: the member gets this interview, and every
        # other copy in that calendar, by mail instead (app.calendars.fallback).
        result.disconnected += 1
        await session.flush()
        if not await lose_connection(session, connection.id, reason=REVOKED, now=now):
            await mail_instead(session, event.id, now=now)  # broken by another worker first
        return
    if _retryable(error) and not final_attempt:
        result.pending += 1
        delay = error.retry_after if isinstance(error, Retryable) else None
        if delay is not None:
            result.retry_after = max(delay, result.retry_after or 0.0)
        sync_state.awaiting(participant)
        return
    result.failed += 1
    event.state = CalendarEventState.FAILED
    sync_state.failed(participant, _reason(error))


def _retryable(error: CalendarError | None) -> bool:
    return isinstance(error, Retryable | AuthExpired)


def _reason(error: CalendarError) -> str:
    """What a member reads next to their sync state."""
    match error:
        case Revoked():
            return "calendar access was revoked: connect the calendar again"
        case Gone():
            return "the event was deleted from the calendar"
        case AlreadyExists():
            return "the event was deleted from the calendar and cannot be written again"
        case Retryable() | AuthExpired():
            return "the calendar provider did not answer; gave up after several attempts"
        case _:
            # The provider's own words stay on the event row (last_error) for admins.
            return "the calendar provider refused the event"
