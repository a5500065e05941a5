"""The outbox: publishing committed rows to the broker, and processing one row exactly so.

Rows move PENDING -> DONE, or -> FAILED with the reason after the last attempt or a
permanent error. Two conditional UPDATEs keep several relays and workers out of each
other's way without locks held across network calls:

- publishing claims a batch by setting `published_at` (only rows nobody published
  recently), so two relays do not both publish a fresh row;
- processing claims one row by moving `available_at` a lease into the future and counting
  the attempt, so a second delivery of the same broker message, or a republished one,
  finds the row taken or done and does nothing.

A claim's lease is short and renewed while its handler runs, so a live worker keeps its
row however slow the provider, and a dead worker's row is free again within a lease. A
worker that dies holding a claim loses nothing: once the lease has passed and the row has
sat unclaimed for `republish_after`, a sweep publishes it again (Dramatiq's Redis broker
also requeues a dead worker's unacknowledged messages on its own).

Delivery is at least once. The window for a duplicate is the time between the receiver's
acceptance (SMTP 250, a provider's answer) and the DONE mark: the handler's own bookkeeping
is written in the same short transaction as that mark (`Completion`), nothing else runs in
between, and a repeated mail carries the same Message-ID so that mail clients fold it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import begin_write
from app.models import OutboxMessage, OutboxStatus
from app.ops.logs import bound_request_id
from app.ops.tracing import delivery_span
from app.outbox.errors import Deferred, PermanentDeliveryError, TransientDeliveryError
from app.workers.options import WorkerOptions

logger = logging.getLogger(__name__)

MAX_REASON = 2000


@dataclass(frozen=True)
class ClaimedMessage:
    id: uuid.UUID
    topic: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int  # this attempt's number, from 1


@dataclass(frozen=True)
class Completion:
    """What a handler hands back after the receiver accepted: a note for the row, and its
    own bookkeeping, written in the transaction that marks the row DONE."""

    note: str | None = None
    write: Callable[[AsyncSession], Awaitable[object]] | None = None


# A handler does the work of one row and returns a note for the row (or None, or a
# Completion); it raises TransientDeliveryError to be retried later and
# PermanentDeliveryError to fail at once.
Handler = Callable[[ClaimedMessage], Awaitable["str | Completion | None"]]

# What a topic records when one of its rows ends FAILED, in the transaction of that mark
# (the reason as argument): the sync states the row was to settle, so that none stays
# PENDING when a row gives up without its handler saying so (every attempt died with its
# worker, or an unexpected error on the last one). It must leave settled states alone.
FailureRecorder = Callable[[AsyncSession, ClaimedMessage, str], Awaitable[object]]


class Outcome(enum.StrEnum):
    DONE = "DONE"
    RETRY = "RETRY"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"  # done already, claimed by another worker, or not due yet
    DEFERRED = "DEFERRED"  # not yet, no attempt spent: look again after retry_in


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    retry_in: timedelta | None = None
    reason: str | None = None


async def process_outbox_message(
    *,
    sessions: async_sessionmaker[AsyncSession],
    handlers: Mapping[str, Handler],
    message_id: uuid.UUID,
    options: WorkerOptions,
    clock: Callable[[], datetime],
    on_failed: Mapping[str, FailureRecorder] | None = None,
) -> Result:
    claimed = await _claim(sessions, message_id, clock(), options.lease)
    record_failure = (on_failed or {}).get(claimed.topic) if claimed else None
    if claimed is None:
        return Result(Outcome.SKIPPED)
    if claimed.attempts > options.max_attempts:
        # Every attempt so far ended without an outcome: its worker died during it. Stop
        # handing the row to workers it may be killing; admins can retry it.
        reason = (
            f"gave up: none of {options.max_attempts} attempts came back "
            "(the worker stopped during each)"
        )
        logger.warning("outbox %s failed: %s", claimed.id, reason)
        await _finish(
            sessions,
            claimed,
            write=_recording(record_failure, claimed, reason),
            status=OutboxStatus.FAILED,
            last_error=reason,
            processed_at=clock(),
        )
        return Result(Outcome.FAILED, reason=reason)
    handler = handlers.get(claimed.topic)
    error: Exception | None = None
    completion = Completion()
    try:
        if handler is None:
            raise TransientDeliveryError(f"no worker handles topic {claimed.topic!r} yet")
        rid = claimed.payload.get("request_id")
        with (
            bound_request_id(rid if isinstance(rid, str) else None),
            delivery_span(
                topic=claimed.topic,
                message_id=claimed.id,
                attempt=claimed.attempts,
                payload=claimed.payload,
            ),
        ):
            async with _renewing_lease(sessions, claimed, clock, options.lease):
                outcome = await handler(claimed)
        completion = outcome if isinstance(outcome, Completion) else Completion(note=outcome)
    except Exception as exc:
        error = exc
        if not isinstance(exc, TransientDeliveryError | PermanentDeliveryError):
            logger.exception("outbox %s: unexpected error", claimed.id)
    if isinstance(error, Deferred):
        return await _defer(sessions, claimed, error, options, clock())
    step = next_state(
        attempts=claimed.attempts, options=options, error=error, note=completion.note, now=clock()
    )
    if step.result.outcome is Outcome.RETRY:
        logger.info(
            "outbox %s: %s; retry in %s", claimed.id, step.result.reason, step.result.retry_in
        )
    elif step.result.outcome is Outcome.FAILED:
        logger.warning("outbox %s failed: %s", claimed.id, step.result.reason)
    write = completion.write if step.result.outcome is Outcome.DONE else None
    if step.result.outcome is Outcome.FAILED:
        write = _recording(record_failure, claimed, step.result.reason or "failed")
    await _finish(sessions, claimed, write=write, **step.values)
    return step.result


def _recording(
    record: FailureRecorder | None, claimed: ClaimedMessage, reason: str
) -> Callable[[AsyncSession], Awaitable[object]] | None:
    if record is None:
        return None

    async def write(session: AsyncSession) -> object:
        return await record(session, claimed, reason)

    return write


async def _defer(
    sessions: async_sessionmaker[AsyncSession],
    claimed: ClaimedMessage,
    wait: Deferred,
    options: WorkerOptions,
    now: datetime,
) -> Result:
    """Waiting for something else to happen first: the attempt is given back."""
    delay = timedelta(seconds=wait.retry_after or options.min_backoff_seconds)
    await _finish(
        sessions,
        claimed,
        attempts=claimed.attempts - 1,
        last_error=wait.reason[:MAX_REASON],
        available_at=now + delay,
        published_at=now,
    )
    return Result(Outcome.DEFERRED, retry_in=delay, reason=wait.reason)


@dataclass(frozen=True)
class Step:
    """What a delivery attempt makes of its row: the new column values, and the result."""

    values: dict[str, Any]
    result: Result


def next_state(
    *,
    attempts: int,
    options: WorkerOptions,
    error: Exception | None,
    note: str | None,
    now: datetime,
) -> Step:
    """The outbox state machine: attempt number `attempts` ended with `error`, or succeeded.

    Success is DONE; a permanent error is FAILED at once; anything else is retried with
    backoff (no sooner than the server's Retry-After) until the last attempt, then FAILED.
    """
    if error is None:
        return Step(
            {"status": OutboxStatus.DONE, "last_error": note, "processed_at": now},
            Result(Outcome.DONE, reason=note),
        )
    if isinstance(error, PermanentDeliveryError):
        return _failed(error.reason, now)
    if isinstance(error, TransientDeliveryError):
        # Transient: the other side said so. Anything else is a bug or an outage we did not
        # foresee: retried the same way, and kept on the row so admins see it if it stays.
        reason, retry_after = error.reason, error.retry_after
    else:
        reason, retry_after = repr(error), None
    if attempts >= options.max_attempts:
        return _failed(f"gave up: {reason}", now)
    delay = options.backoff(attempts, retry_after)
    return Step(
        {
            "status": OutboxStatus.PENDING,
            "last_error": reason[:MAX_REASON],
            "available_at": now + delay,
            "published_at": now,  # the broker holds the delayed retry from now on
        },
        Result(Outcome.RETRY, retry_in=delay, reason=reason),
    )


def _failed(reason: str, now: datetime) -> Step:
    return Step(
        {"status": OutboxStatus.FAILED, "last_error": reason[:MAX_REASON], "processed_at": now},
        Result(Outcome.FAILED, reason=reason),
    )


@contextlib.asynccontextmanager
async def _renewing_lease(
    sessions: async_sessionmaker[AsyncSession],
    claimed: ClaimedMessage,
    clock: Callable[[], datetime],
    lease: timedelta,
) -> AsyncIterator[None]:
    """Extend the claim every third of a lease while the work goes on."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease.total_seconds() / 3)
            try:
                kept = await _extend(sessions, claimed, clock() + lease)
            except Exception:
                # The database is briefly away: the next beat tries again, and a lost lease
                # only lets another worker repeat the delivery (at least once).
                logger.warning("outbox %s: lease not renewed", claimed.id, exc_info=True)
                continue
            if not kept:
                logger.warning("outbox %s: claim lost while working", claimed.id)
                return

    beat = asyncio.create_task(renew())
    try:
        yield
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat


async def _extend(
    sessions: async_sessionmaker[AsyncSession], claimed: ClaimedMessage, until: datetime
) -> bool:
    async with sessions() as session:
        await begin_write(session)
        result = await session.execute(
            update(OutboxMessage)
            .where(still_ours(claimed))
            .values(available_at=until)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    return bool(getattr(result, "rowcount", 0))


def claimable(message_id: uuid.UUID, now: datetime) -> ColumnElement[bool]:
    """A row a worker may take now: still pending, and neither leased nor backing off."""
    return and_(
        OutboxMessage.id == message_id,
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.available_at <= now,
    )


def still_ours(claimed: ClaimedMessage) -> ColumnElement[bool]:
    """Our claim holds while nobody finished the row or claimed it again since."""
    return and_(
        OutboxMessage.id == claimed.id,
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.attempts == claimed.attempts,
    )


def due_for_publishing(
    topics: Collection[str], *, now: datetime, options: WorkerOptions
) -> ColumnElement[bool]:
    """Rows to hand to the broker: new ones at once, stale ones again (see module doc)."""
    stale = now - options.republish_after
    return and_(
        # A literal, as the partial index ix_outbox_messages_pending says it: a prepared
        # statement's generic plan cannot match a parameter to the index's predicate.
        OutboxMessage.status
        == literal(OutboxStatus.PENDING, OutboxMessage.status.type, literal_execute=True),
        OutboxMessage.topic.in_(list(topics)),
        OutboxMessage.available_at <= now,
        or_(
            OutboxMessage.published_at.is_(None),
            and_(OutboxMessage.published_at <= stale, OutboxMessage.available_at <= stale),
        ),
    )


async def _claim(
    sessions: async_sessionmaker[AsyncSession],
    message_id: uuid.UUID,
    now: datetime,
    lease: timedelta,
) -> ClaimedMessage | None:
    async with sessions() as session:
        await begin_write(session)
        row = (
            await session.execute(
                update(OutboxMessage)
                .where(claimable(message_id, now))
                .values(attempts=OutboxMessage.attempts + 1, available_at=now + lease)
                .returning(
                    OutboxMessage.id,
                    OutboxMessage.topic,
                    OutboxMessage.payload,
                    OutboxMessage.created_at,
                    OutboxMessage.attempts,
                )
                .execution_options(synchronize_session=False)
            )
        ).one_or_none()
        await session.commit()
    if row is None:
        return None
    return ClaimedMessage(
        id=row.id,
        topic=row.topic,
        payload=dict(row.payload),
        created_at=row.created_at,
        attempts=row.attempts,
    )


async def _finish(
    sessions: async_sessionmaker[AsyncSession],
    claimed: ClaimedMessage,
    *,
    write: Callable[[AsyncSession], Awaitable[object]] | None = None,
    **values: Any,
) -> None:
    # Only while the claim is still ours: a worker whose lease ran out (and whose row
    # another worker took) must not overwrite that worker's outcome.
    async with sessions() as session:
        await begin_write(session)
        result = await session.execute(
            update(OutboxMessage)
            .where(still_ours(claimed))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        marked: int = getattr(result, "rowcount", 0) or 0
        if write is not None and marked:
            await write(session)  # commits with the mark, or not at all
        await session.commit()


Publish = Callable[[str, uuid.UUID], None]


async def publish_pending(
    *,
    sessions: async_sessionmaker[AsyncSession],
    publish: Publish,
    topics: Collection[str],
    options: WorkerOptions,
    now: datetime,
) -> int:
    """Hand due rows to the broker: new ones at once, stale ones again (see module doc).

    Returns how many were published. If the broker fails midway, the rows not sent are
    released for the next pass and the error propagates.
    """
    due = due_for_publishing(topics, now=now, options=options)
    async with sessions() as session:
        await begin_write(session)
        batch = (
            select(OutboxMessage.id)
            .where(due)
            .order_by(OutboxMessage.created_at)
            .limit(options.sweep_batch)
        )
        rows = (
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(batch.scalar_subquery()), due)
                .values(published_at=now)
                .returning(OutboxMessage.id, OutboxMessage.topic, OutboxMessage.created_at)
                .execution_options(synchronize_session=False)
            )
        ).all()
        await session.commit()
    if not rows:
        return 0
    ordered = sorted(rows, key=lambda r: r.created_at)
    sent: list[uuid.UUID] = []

    def send_all() -> None:
        for row in ordered:
            publish(row.topic, row.id)
            sent.append(row.id)

    try:
        # Broker clients block on the network: keep them off the event loop.
        await asyncio.to_thread(send_all)
    except BaseException:
        unsent = [r.id for r in ordered if r.id not in set(sent)]
        async with sessions() as session:
            await begin_write(session)
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(unsent), OutboxMessage.published_at == now)
                .values(published_at=None)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        raise
    return len(rows)
