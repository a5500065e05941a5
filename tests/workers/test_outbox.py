"""The outbox's rules without a broker: claims, idempotency, backoff, publishing once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.db import begin_write, create_session_factory
from app.models import OutboxMessage, OutboxStatus, utcnow
from app.notifications.kinds import MessageKind
from app.notifications.service import Recipient, tell
from app.outbox.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from app.outbox.processing import (
    ClaimedMessage,
    Completion,
    Outcome,
    Result,
    process_outbox_message,
    publish_pending,
)
from app.outbox.topics import MAIL_TOPIC
from app.outbox.topics import handlers as topic_handlers
from app.workers.options import WorkerOptions
from app.workers.runtime import WorkerRuntime
from tests.workers.conftest import eventually

OPTIONS = WorkerOptions(
    min_backoff_seconds=10, max_backoff_seconds=60, max_attempts=3, republish_after_seconds=300
)


@dataclass
class RecordingTransport:
    sent: list[EmailMessage] = field(default_factory=list)
    errors: list[DeliveryError] = field(default_factory=list)  # raised first, in order
    pause: float = 0.0

    async def send(self, message: EmailMessage) -> None:
        if self.pause:
            await asyncio.sleep(self.pause)  # lets a concurrent delivery overlap this one
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(message)


@dataclass
class Clock:
    """Real time, moved forward by the test."""

    ahead: timedelta = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.ahead


@pytest.fixture
async def runtime(
    settings: Settings, engine: AsyncEngine, clean_db: None
) -> AsyncIterator[WorkerRuntime]:
    rt = WorkerRuntime(settings, OPTIONS, transport=RecordingTransport(), clock=Clock())
    yield rt
    await rt.close()


def transport(runtime: WorkerRuntime) -> RecordingTransport:
    assert isinstance(runtime.transport, RecordingTransport)
    return runtime.transport


async def write_mails(session: AsyncSession, count: int) -> list[uuid.UUID]:
    await begin_write(session)
    tell(
        session,
        recipients=[
            Recipient(email=f"person{i}@example.com", time_zone="UTC") for i in range(count)
        ],
        kind=MessageKind.CANDIDATE_HIRED,
        interview=None,
        message="Someone was hired.",
    )
    await session.commit()
    return list(await session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.created_at)))


async def row(engine: AsyncEngine, message_id: uuid.UUID) -> OutboxMessage:
    async with create_session_factory(engine)() as session:
        found = await session.get(OutboxMessage, message_id)
        assert found is not None
        return found


async def process(runtime: WorkerRuntime, message_id: uuid.UUID) -> Result:
    return await process_outbox_message(
        sessions=runtime.sessions,
        handlers=topic_handlers(runtime),
        message_id=message_id,
        options=runtime.options,
        clock=runtime.clock,
    )


async def test_a_second_delivery_of_a_done_row_sends_nothing(
    session: AsyncSession, engine: AsyncEngine, runtime: WorkerRuntime
) -> None:
    [message_id] = await write_mails(session, 1)
    assert (await process(runtime, message_id)).outcome is Outcome.DONE
    assert (await process(runtime, message_id)).outcome is Outcome.SKIPPED
    assert len(transport(runtime).sent) == 1
    done = await row(engine, message_id)
    assert (done.status, done.attempts) == (OutboxStatus.DONE, 1)
    assert done.processed_at is not None


async def test_concurrent_deliveries_of_one_row_send_it_once(
    session: AsyncSession, runtime: WorkerRuntime
) -> None:
    [message_id] = await write_mails(session, 1)
    transport(runtime).pause = 0.2
    results = await asyncio.gather(*(process(runtime, message_id) for _ in range(3)))
    assert sorted(r.outcome for r in results) == [Outcome.DONE, Outcome.SKIPPED, Outcome.SKIPPED]
    assert len(transport(runtime).sent) == 1


async def test_transient_errors_back_off_exponentially_then_fail_with_the_reason(
    session: AsyncSession, engine: AsyncEngine, runtime: WorkerRuntime
) -> None:
    [message_id] = await write_mails(session, 1)
    transport(runtime).errors = [TransientDeliveryError("SMTP 451 busy") for _ in range(3)]
    clock = runtime.clock
    assert isinstance(clock, Clock)

    first = await process(runtime, message_id)
    assert (first.outcome, first.retry_in) == (Outcome.RETRY, timedelta(seconds=10))
    assert (await process(runtime, message_id)).outcome is Outcome.SKIPPED, "not due yet"
    clock.ahead += timedelta(seconds=11)
    second = await process(runtime, message_id)
    assert (second.outcome, second.retry_in) == (Outcome.RETRY, timedelta(seconds=20))
    assert (await row(engine, message_id)).last_error == "SMTP 451 busy"
    clock.ahead += timedelta(seconds=21)
    third = await process(runtime, message_id)
    assert third.outcome is Outcome.FAILED
    failed = await row(engine, message_id)
    assert (failed.status, failed.attempts) == (OutboxStatus.FAILED, 3)
    assert failed.last_error == "gave up: SMTP 451 busy"
    assert transport(runtime).sent == []


async def test_retry_after_from_the_server_is_honoured(
    session: AsyncSession, runtime: WorkerRuntime
) -> None:
    [message_id] = await write_mails(session, 1)
    transport(runtime).errors = [TransientDeliveryError("429", retry_after=120)]
    result = await process(runtime, message_id)
    assert result.retry_in == timedelta(seconds=120)


async def test_permanent_error_fails_at_once(
    session: AsyncSession, engine: AsyncEngine, runtime: WorkerRuntime
) -> None:
    [message_id] = await write_mails(session, 1)
    transport(runtime).errors = [PermanentDeliveryError("SMTP 550 no such mailbox")]
    assert (await process(runtime, message_id)).outcome is Outcome.FAILED
    failed = await row(engine, message_id)
    assert (failed.status, failed.attempts, failed.last_error) == (
        OutboxStatus.FAILED,
        1,
        "SMTP 550 no such mailbox",
    )


async def test_an_expired_claim_is_taken_over_and_the_late_worker_cannot_undo_it(
    session: AsyncSession, engine: AsyncEngine, runtime: WorkerRuntime
) -> None:
    """A worker that stalls past its lease: another delivers; the stalled one's error is moot."""
    [message_id] = await write_mails(session, 1)
    clock = runtime.clock
    assert isinstance(clock, Clock)
    slow = transport(runtime)
    slow.pause = 0.3
    slow.errors = [TransientDeliveryError("timed out")]
    stalled = asyncio.create_task(process(runtime, message_id))

    async def claimed() -> bool:
        return (await row(engine, message_id)).attempts == 1

    await eventually(claimed, what="the first worker holds the claim")
    clock.ahead += OPTIONS.lease + timedelta(seconds=1)
    other = WorkerRuntime(runtime.settings, OPTIONS, transport=RecordingTransport(), clock=clock)
    try:
        assert (await process(other, message_id)).outcome is Outcome.DONE
    finally:
        await other.close()
    await stalled
    done = await row(engine, message_id)
    assert (done.status, done.attempts) == (OutboxStatus.DONE, 2)


async def test_each_new_row_is_published_once_by_concurrent_relays(
    session: AsyncSession, runtime: WorkerRuntime
) -> None:
    ids = await write_mails(session, 12)
    seen: list[list[uuid.UUID]] = [[], []]
    now = utcnow()

    async def relay(index: int) -> int:
        return await publish_pending(
            sessions=runtime.sessions,
            publish=lambda _topic, message_id: seen[index].append(message_id),
            topics={MAIL_TOPIC},
            options=OPTIONS,
            now=now,
        )

    counts = await asyncio.gather(relay(0), relay(1))
    assert sum(counts) == 12
    assert sorted(seen[0] + seen[1]) == sorted(ids), "every row once, none twice"
    assert await relay(0) == 0, "published rows are not published again at once"
    later = now + OPTIONS.republish_after + timedelta(seconds=1)
    republished = await publish_pending(
        sessions=runtime.sessions,
        publish=lambda _topic, _id: None,
        topics={MAIL_TOPIC},
        options=OPTIONS,
        now=later,
    )
    assert republished == 12, "rows nobody claimed for a while are published again"


async def test_rows_the_broker_did_not_take_are_released_for_the_next_pass(
    session: AsyncSession, runtime: WorkerRuntime
) -> None:
    ids = await write_mails(session, 3)
    taken: list[uuid.UUID] = []

    def flaky(_topic: str, message_id: uuid.UUID) -> None:
        if taken:
            raise ConnectionError("broker down")
        taken.append(message_id)

    with pytest.raises(ConnectionError):
        await publish_pending(
            sessions=runtime.sessions,
            publish=flaky,
            topics={MAIL_TOPIC},
            options=OPTIONS,
            now=utcnow(),
        )
    again: list[uuid.UUID] = []
    count = await publish_pending(
        sessions=runtime.sessions,
        publish=lambda _topic, message_id: again.append(message_id),
        topics={MAIL_TOPIC},
        options=OPTIONS,
        now=utcnow(),
    )
    assert count == 2
    assert sorted(taken + again) == sorted(ids)


async def test_topics_without_a_worker_stay_in_the_outbox(
    session: AsyncSession, runtime: WorkerRuntime
) -> None:
    await begin_write(session)
    session.add(OutboxMessage(id=uuid.uuid4(), topic="calendar.future", payload={}))
    await session.commit()
    published = await publish_pending(
        sessions=runtime.sessions,
        publish=lambda _topic, _id: None,
        topics={MAIL_TOPIC},
        options=OPTIONS,
        now=utcnow(),
    )
    assert published == 0


async def test_a_live_worker_keeps_its_claim_past_the_lease(
    session: AsyncSession, engine: AsyncEngine, settings: Settings, clean_db: None
) -> None:
    """The lease is renewed while the handler works: a slow delivery is not repeated."""
    # A lease of a second, renewed every third of it: long enough that a loaded machine's
    # scheduling delays (two suites on two cores lapsed a 0.3 s lease) do not fake a death.
    options = WorkerOptions(lease_seconds=1.0, max_attempts=3)
    started, release = asyncio.Event(), asyncio.Event()
    calls: list[uuid.UUID] = []

    async def slow(message: ClaimedMessage) -> str:
        calls.append(message.id)
        if len(calls) == 1:  # the first delivery is slow; a repeat would return at once
            started.set()
            await release.wait()
        return "sent"

    rt = WorkerRuntime(settings, options, transport=RecordingTransport(), clock=utcnow)
    try:
        [message_id] = await write_mails(session, 1)

        async def deliver() -> Result:
            return await process_outbox_message(
                sessions=rt.sessions,
                handlers={MAIL_TOPIC: slow},
                message_id=message_id,
                options=options,
                clock=utcnow,
            )

        first = asyncio.create_task(deliver())
        await started.wait()
        await asyncio.sleep(3.0)  # three leases of real time pass while the work goes on
        assert (await deliver()).outcome is Outcome.SKIPPED
        release.set()
        assert (await first).outcome is Outcome.DONE
        assert calls == [message_id]
    finally:
        await rt.close()


async def test_a_completion_is_written_with_the_done_mark_or_not_at_all(
    session: AsyncSession, engine: AsyncEngine, runtime: WorkerRuntime
) -> None:
    [message_id] = await write_mails(session, 1)

    async def broken_bookkeeping(db: AsyncSession) -> None:
        raise RuntimeError("the bookkeeping failed")

    async def handler(message: ClaimedMessage) -> Completion:
        return Completion(note="sent", write=broken_bookkeeping)

    with pytest.raises(RuntimeError):
        await process_outbox_message(
            sessions=runtime.sessions,
            handlers={MAIL_TOPIC: handler},
            message_id=message_id,
            options=runtime.options,
            clock=runtime.clock,
        )
    # Rolled back together: the row is not DONE, so the lease lets it be delivered again.
    assert (await row(engine, message_id)).status is OutboxStatus.PENDING


def test_a_dead_workers_rows_are_published_again_within_a_minute_on_the_defaults() -> None:
    """Claim at t=0, die at once: lease, republish delay and one sweep interval bound it."""
    defaults = WorkerOptions()
    worst = (
        defaults.lease.total_seconds()
        + defaults.republish_after.total_seconds()
        + defaults.sweep_interval_seconds
    )
    assert worst <= 60
    # The renewal beat comes well inside the lease, so a live worker never loses its row
    # to a slow database write.
    assert defaults.lease_seconds / 3 <= defaults.lease_seconds - 5


async def test_a_dead_workers_row_is_published_again_after_its_lease(
    session: AsyncSession, engine: AsyncEngine, runtime: WorkerRuntime
) -> None:
    defaults = WorkerOptions()
    [message_id] = await write_mails(session, 1)
    start = utcnow()
    published: list[uuid.UUID] = []

    async def sweep(at: datetime) -> int:
        return await publish_pending(
            sessions=runtime.sessions,
            publish=lambda _topic, mid: published.append(mid),
            topics=[MAIL_TOPIC],
            options=defaults,
            now=at,
        )

    assert await sweep(start) == 1
    # A worker claims it and dies without finishing (no renewals follow).
    async with runtime.sessions() as db:
        await begin_write(db)
        await db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(attempts=1, available_at=start + defaults.lease)
        )
        await db.commit()
    at = start
    while not published[1:]:
        at += timedelta(seconds=defaults.sweep_interval_seconds)
        await sweep(at)
        assert at - start <= timedelta(seconds=60), "not published again within a minute"
    assert published == [message_id, message_id]


async def test_a_row_whose_every_attempt_died_is_failed_not_claimed_for_ever(
    session: AsyncSession, engine: AsyncEngine, runtime: WorkerRuntime
) -> None:
    [message_id] = await write_mails(session, 1)
    # Each earlier claim ended with its worker killed: no outcome, only the count.
    async with runtime.sessions() as db:
        await begin_write(db)
        await db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(attempts=OPTIONS.max_attempts)
        )
        await db.commit()
    result = await process(runtime, message_id)
    assert result.outcome is Outcome.FAILED
    assert transport(runtime).sent == [], "not tried again"
    failed = await row(engine, message_id)
    assert failed.status is OutboxStatus.FAILED
    assert failed.last_error is not None and "none of 3 attempts came back" in failed.last_error
