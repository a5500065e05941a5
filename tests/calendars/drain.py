"""Delivering outbox rows as the worker would, one topic or row at a time, in test order.

Rows are processed by `process_outbox_message` with the worker's own handlers. A row that
comes back for a retry is due after the delay the actor would hand to the broker; the
clock skips that wait instead of sleeping.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select

from app.config import Settings
from app.models import OutboxMessage, OutboxStatus, utcnow
from app.outbox.processing import Result, process_outbox_message
from app.outbox.topics import failure_recorders
from app.outbox.topics import handlers as topic_handlers
from app.workers.options import WorkerOptions
from app.workers.runtime import WorkerRuntime
from tests.conftest import Clock


@dataclass
class SkippingClock:
    """Real time plus the waits the test skipped."""

    skipped: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.skipped


def real_time(clock: Clock) -> None:
    """The domain's clock at the workers' real time: what is past and future (interviews
    still to come, a calendar's window) then agrees with the outbox's timing."""
    clock.now = utcnow().replace(minute=0, second=0, microsecond=0)


@dataclass
class MailBox:
    sent: list[EmailMessage] = field(default_factory=list)

    async def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


@dataclass
class Drainer:
    runtime: WorkerRuntime
    clock: SkippingClock
    mail: MailBox

    @classmethod
    def start(cls, settings: Settings) -> Drainer:
        clock, mail = SkippingClock(), MailBox()
        options = WorkerOptions(min_backoff_seconds=1, max_backoff_seconds=60, max_attempts=8)
        return cls(WorkerRuntime(settings, options, transport=mail, clock=clock), clock, mail)

    async def pending(self, topic: str) -> list[OutboxMessage]:
        async with self.runtime.sessions() as session:
            rows = list(
                await session.scalars(
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.topic == topic,
                        OutboxMessage.status == OutboxStatus.PENDING,
                    )
                    .order_by(OutboxMessage.created_at)
                )
            )
            await session.commit()
        return rows

    async def deliver(self, message_id: uuid.UUID) -> Result:
        return await process_outbox_message(
            sessions=self.runtime.sessions,
            handlers=topic_handlers(self.runtime),
            message_id=message_id,
            options=self.runtime.options,
            clock=self.clock,
            on_failed=failure_recorders(),
        )

    async def once(self, topic: str) -> list[Result]:
        """Every due row of the topic, once; the clock then skips to the next one due."""
        rows = await self.pending(topic)
        now = self.clock()
        results = [await self.deliver(r.id) for r in rows if r.available_at <= now]
        later = [r.available_at for r in await self.pending(topic)]
        if later and min(later) > self.clock():
            self.clock.skipped += min(later) - self.clock()
        return results

    async def drain(self, *topics: str, rounds: int = 50) -> None:
        for _ in range(rounds):
            if not any([await self.pending(t) for t in topics]):
                return
            for topic in topics:
                await self.once(topic)
        raise AssertionError(f"rows of {topics} still pending after {rounds} rounds")

    async def close(self) -> None:
        await self.runtime.close()
