"""The issue's fault test, end to end: 100 bookings made through the booking service, their
calendar_sync outbox rows delivered by the worker's own code path while both fakes fail 30%
of API calls (500, 503, or 429 with Retry-After; half of them after the work was done).

Rows are processed by `process_outbox_message` with the worker's topic handlers, as the
Dramatiq actor does, several at once like a worker's threads. A row that comes back for
retry is due again after the delay the actor would hand to the broker; the test's clock
skips that wait instead of sleeping, so Retry-After is honoured without real time passing.

In the end every booking has exactly one event per connected member, none twice; then a
fifth of them are cancelled, under the same failures, and their events are gone.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import load_viewer
from app.calendars.base import event_key
from app.config import Settings
from app.db import begin_write
from app.models import (
    CalendarEvent,
    CalendarEventState,
    CalendarProvider,
    Interview,
    InterviewStatus,
    OutboxMessage,
    OutboxStatus,
    Participant,
    SyncState,
    User,
    utcnow,
)
from app.outbox.processing import Handler, Outcome, Result, process_outbox_message
from app.outbox.topics import SYNC_TOPIC
from app.outbox.topics import handlers as topic_handlers
from app.scheduling import booking, requests
from app.workers.options import WorkerOptions
from app.workers.runtime import WorkerRuntime
from tests.calendars.conftest import Fakes
from tests.calendars.test_freebusy import connect
from tests.conftest import Clock
from tests.factories import Side, local_windows, make_interview, make_world
from tests.fakes import google, microsoft

GOOGLE, MICROSOFT = CalendarProvider.GOOGLE, CalendarProvider.MICROSOFT
TEAM_ZONE = "America/New_York"
BOOKINGS = 100  # 50 per team
CANCELLED_EVERY = 5  # every fifth booking is cancelled afterwards
FAIL_RATE = 0.3
RETRY_AFTER = 30.0  # seconds the fakes' 429 answers ask for
WORKER_THREADS = 4
MAX_ROUNDS = 400  # only stops a broken test from spinning
LINKS = {GOOGLE: "https://meet.google.com/", MICROSOFT: "https://teams.microsoft.com/"}


@dataclass
class SkippingClock:
    """Real time plus the waits the test skipped: a retried row falls due at once."""

    skipped: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.skipped


@dataclass
class Worker:
    runtime: WorkerRuntime
    clock: SkippingClock
    handlers: dict[str, Handler]
    retries: list[Result]
    passes: int = 0
    # Deliveries at once, like a worker process's threads.
    threads: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(WORKER_THREADS))

    async def drain(self) -> None:
        """Deliver calendar_sync rows until none is pending, as the actors would."""
        for _ in range(MAX_ROUNDS):
            async with self.runtime.sessions() as session:
                pending = (
                    await session.execute(
                        select(OutboxMessage.id, OutboxMessage.available_at).where(
                            OutboxMessage.topic == SYNC_TOPIC,
                            OutboxMessage.status == OutboxStatus.PENDING,
                        )
                    )
                ).all()
                await session.commit()
            if not pending:
                return
            now = self.clock()
            due = [row.id for row in pending if row.available_at <= now]
            if not due:
                # The broker would hold the retried messages this long: skip the wait.
                self.clock.skipped += min(row.available_at for row in pending) - now
                continue

            async def deliver(message_id: uuid.UUID) -> Result:
                async with self.threads:
                    return await process_outbox_message(
                        sessions=self.runtime.sessions,
                        handlers=self.handlers,
                        message_id=message_id,
                        options=self.runtime.options,
                        clock=self.clock,
                    )

            results = await asyncio.gather(*(deliver(message_id) for message_id in due))
            self.passes += len(results)
            self.retries.extend(r for r in results if r.outcome is Outcome.RETRY)
        raise AssertionError(f"calendar_sync rows still pending after {MAX_ROUNDS} rounds")


async def book_on_day(
    session: AsyncSession, settings: Settings, side: Side, clock: Clock, day: int
) -> Interview:
    """Request an interview of both members on a day of its own, and book its first slot."""
    when = clock.now + timedelta(days=day)
    windows = local_windows(when, TEAM_ZONE, [("09:00", "10:00"), ("13:00", "14:00")])
    await begin_write(session)
    interview = await make_interview(
        session,
        settings,
        side,
        clock.now,
        windows=windows,
        participants=[side.member, side.colleague],
        time_zone=TEAM_ZONE,
    )
    first = datetime.fromisoformat(windows[0].start).replace(tzinfo=ZoneInfo(TEAM_ZONE))
    viewer = await load_viewer(session, side.candidate)
    calendars = await booking.ask_member_calendars(
        session=session, viewer=viewer, settings=settings, interview_id=interview.id
    )
    await begin_write(session)
    booked = await booking.book_slot(
        session=session,
        viewer=viewer,
        settings=settings,
        interview_id=interview.id,
        start=first,
        time_zone="UTC",
        now=clock.now,
        calendars=calendars,
    )
    await session.commit()
    assert booked.status is InterviewStatus.BOOKED
    return booked


def stored_keys(fakes: Fakes, provider: CalendarProvider, email: str) -> list[str]:
    """The idempotency key of each live event in the account's calendar, repeats kept."""
    if provider is GOOGLE:
        return [str(e["id"]) for e in fakes.google.events(email)]
    return [str(e.get("transactionId")) for e in fakes.microsoft.events(email)]


def stored_times(
    fakes: Fakes, provider: CalendarProvider, email: str
) -> dict[str, tuple[datetime, datetime]]:
    if provider is GOOGLE:
        return {
            str(e["id"]): (google.parse_time(e["start"]), google.parse_time(e["end"]))
            for e in fakes.google.events(email)
        }
    return {
        str(e["transactionId"]): (microsoft.parse_dtz(e["start"]), microsoft.parse_dtz(e["end"]))
        for e in fakes.microsoft.events(email)
    }


async def test_a_hundred_bookings_under_provider_faults_sync_once_each_then_cancel(
    session: AsyncSession, settings: Settings, fakes: Fakes, clock: Clock
) -> None:
    world = await make_world(session)
    # Both providers create conferences: team A's requester is on Google (Meet), team B's
    # on Microsoft (Teams); each team's other member is on the other provider.
    providers: dict[uuid.UUID, CalendarProvider] = {
        world.a.member.id: GOOGLE,
        world.a.colleague.id: MICROSOFT,
        world.b.member.id: MICROSOFT,
        world.b.colleague.id: GOOGLE,
    }
    users: dict[uuid.UUID, User] = {}
    for side in (world.a, world.b):
        for user in (side.member, side.colleague):
            users[user.id] = user
            await connect(session, settings, fakes, user, providers[user.id])
    await session.commit()
    for fake, seed in ((fakes.google, 61), (fakes.microsoft, 62)):
        fake.faults.fail_next(503, after=True)  # a lost answer first, whatever the dice say
        fake.faults.fail_randomly(FAIL_RATE, seed=seed, retry_after=RETRY_AFTER)

    skipping = SkippingClock()
    runtime = WorkerRuntime(
        settings,
        WorkerOptions(
            min_backoff_seconds=1,
            max_backoff_seconds=60,
            # Enough that 30% failures never exhaust a row (0.4 ** 25 per write).
            max_attempts=25,
            lease_seconds=300,
        ),
        clock=skipping,
    )
    handlers = topic_handlers(runtime)
    worker = Worker(runtime, skipping, {SYNC_TOPIC: handlers[SYNC_TOPIC]}, retries=[])
    try:
        # Bookings arrive while the worker is busy with the rows of the earlier ones.
        booked: list[Interview] = []
        for day in range(1, BOOKINGS // 2 + 1):
            for side in (world.a, world.b):
                booked.append(await book_on_day(session, settings, side, clock, day))
            if day % 10 == 0:
                await worker.drain()
        await worker.drain()
        await check_calendars(session, fakes, providers, users, booked, cancelled=set())

        viewers = {
            side.proposal.id: await load_viewer(session, side.member) for side in (world.a, world.b)
        }
        await session.commit()
        cancelled = {i.id for n, i in enumerate(booked) if n % CANCELLED_EVERY == 0}
        for interview in booked:
            if interview.id in cancelled:
                await begin_write(session)
                await requests.cancel_interview(
                    session=session,
                    viewer=viewers[interview.proposal_id],
                    interview_id=interview.id,
                    reason="position filled",
                    now=clock.now,
                )
                await session.commit()
        await worker.drain()
        await check_calendars(session, fakes, providers, users, booked, cancelled=cancelled)
    finally:
        await runtime.close()

    # The faults did happen; every retry was the providers' doing (never a database error)
    # and waited at least as long as a 429's Retry-After asked.
    assert fakes.google.faults.injected >= 20 and fakes.microsoft.faults.injected >= 20
    assert worker.retries, "some rows came back for retry"
    for retry in worker.retries:
        reason = retry.reason or ""
        assert "calendar writes to retry" in reason, reason
        assert retry.retry_in is not None
        if " 429" in reason:
            assert retry.retry_in >= timedelta(seconds=RETRY_AFTER), reason
    assert any(" 429" in (r.reason or "") for r in worker.retries)
    rows = list(
        await session.scalars(select(OutboxMessage).where(OutboxMessage.topic == SYNC_TOPIC))
    )
    await session.commit()
    assert len(rows) == BOOKINGS + len(cancelled)
    assert Counter(r.status for r in rows) == {OutboxStatus.DONE: len(rows)}


async def check_calendars(
    session: AsyncSession,
    fakes: Fakes,
    providers: dict[uuid.UUID, CalendarProvider],
    users: dict[uuid.UUID, User],
    booked: list[Interview],
    *,
    cancelled: set[uuid.UUID],
) -> None:
    """Exactly one event per live booking and connected member, at the booked time."""
    await session.commit()  # a fresh snapshot: the worker committed through its own engine
    ids = [i.id for i in booked]
    participants: list[Participant] = list(
        await session.scalars(select(Participant).where(Participant.interview_id.in_(ids)))
    )
    events = {
        e.participant_id: e
        for e in await session.scalars(
            select(CalendarEvent).where(CalendarEvent.interview_id.in_(ids))
        )
    }
    interviews = {
        i.id: i
        for i in await session.scalars(
            select(Interview).where(Interview.id.in_(ids)).execution_options(populate_existing=True)
        )
    }
    expected: dict[uuid.UUID, set[str]] = {user_id: set() for user_id in users}
    for participant in participants:
        assert participant.user_id is not None
        interview = interviews[participant.interview_id]
        key = event_key(interview.id, participant.id)
        event = events[participant.id]
        assert participant.sync_state is SyncState.SYNCED, participant.sync_error
        if interview.id in cancelled:
            assert interview.status is InterviewStatus.CANCELLED
            assert event.state is CalendarEventState.DELETED
            continue
        assert event.state is CalendarEventState.SYNCED and event.provider_event_id
        expected[participant.user_id].add(key)
        provider = providers[participant.user_id]
        times = stored_times(fakes, provider, users[participant.user_id].email)
        assert times[key] == (interview.booked_start, interview.booked_end)
    for user_id, keys in expected.items():
        user = users[user_id]
        stored = stored_keys(fakes, providers[user_id], user.email)
        assert Counter(stored) == Counter(keys), f"{user.email}: one event per booking, none twice"
    for interview in interviews.values():
        # The requester's provider made the conference: Meet for team A, Teams for team B.
        link = interview.conference_url or ""
        assert LINKS[providers[interview.requested_by_id]] in link, link
