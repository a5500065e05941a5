"""A candidate who has not booked within the setting is reminded once; nobody else is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.access import load_viewer
from app.config import Settings
from app.db import begin_write, create_engine, create_session_factory
from app.models import Interview, InterviewStatus, Notification, OutboxMessage
from app.notifications.kinds import MessageKind
from app.scheduling import booking, requests
from app.workers.options import WorkerOptions
from app.workers.reminders import send_due_reminders
from app.workers.runtime import WorkerRuntime
from tests.conftest import Clock
from tests.factories import World, book_first_slot, make_interview, make_world
from tests.workers.test_outbox import RecordingTransport, process

AFTER = timedelta(hours=24)


async def reminder_rows(engine: AsyncEngine) -> list[OutboxMessage]:
    async with create_session_factory(engine)() as session:
        rows = list(await session.scalars(select(OutboxMessage)))
        await session.commit()
    return [
        r
        for r in rows
        if r.payload.get("kind") in {MessageKind.BOOKING_REMINDER, MessageKind.REMINDER_SENT}
    ]


@pytest.fixture
async def world(session: AsyncSession) -> World:
    await begin_write(session)
    return await make_world(session)


@pytest.fixture
async def other_sessions(
    settings: Settings,
) -> AsyncIterator[list[async_sessionmaker[AsyncSession]]]:
    """Three workers' own engines, as three worker processes would have."""
    engines = [create_engine(settings) for _ in range(3)]
    yield [create_session_factory(e) for e in engines]
    for e in engines:
        await e.dispose()


async def test_candidate_is_reminded_once_and_the_manager_told(
    session: AsyncSession, engine: AsyncEngine, settings: Settings, clock: Clock, world: World
) -> None:
    await begin_write(session)
    interview = await make_interview(session, settings, world.a, clock.now)
    sessions = create_session_factory(engine)
    early = await send_due_reminders(
        sessions=sessions, reminder_after=AFTER, now=clock.now + AFTER - timedelta(minutes=1)
    )
    assert early == 0
    assert (
        await send_due_reminders(sessions=sessions, reminder_after=AFTER, now=clock.now + AFTER)
        == 1
    )
    assert (
        await send_due_reminders(sessions=sessions, reminder_after=AFTER, now=clock.now + 2 * AFTER)
        == 0
    )

    rows = await reminder_rows(engine)
    assert sorted((r.payload["kind"], r.payload["to"]) for r in rows) == sorted(
        [
            (MessageKind.BOOKING_REMINDER.value, world.a.candidate.email),
            (MessageKind.REMINDER_SENT.value, world.a.manager.email),
        ]
    )
    reminded = await session.get(Interview, interview.id, populate_existing=True)
    assert reminded is not None and reminded.reminded_at == clock.now + AFTER
    notes = await session.scalars(
        select(Notification.kind).where(Notification.user_id == world.a.candidate.id)
    )
    assert MessageKind.BOOKING_REMINDER.value in set(notes)


async def test_booked_cancelled_and_answered_interviews_are_never_reminded(
    session: AsyncSession, engine: AsyncEngine, settings: Settings, clock: Clock, world: World
) -> None:
    await begin_write(session)
    booked = await make_interview(session, settings, world.a, clock.now)
    await begin_write(session)
    await book_first_slot(session, settings, world.a, booked, clock.now)
    await begin_write(session)
    cancelled = await make_interview(session, settings, world.b, clock.now)
    await begin_write(session)
    await requests.cancel_interview(
        session=session,
        viewer=await load_viewer(session, world.b.member),
        interview_id=cancelled.id,
        reason=None,
        now=clock.now,
    )
    await session.commit()
    # A second round on A, which the candidate answered by asking for other times.
    await begin_write(session)
    answered = await make_interview(session, settings, world.a, clock.now)
    await begin_write(session)
    await booking.request_alternative_times(
        session=session,
        viewer=await load_viewer(session, world.a.candidate),
        interview_id=answered.id,
        message="Not in the mornings, please",
    )
    await session.commit()
    row = await session.get(Interview, answered.id, populate_existing=True)
    assert row is not None and row.alternative_times_requested
    assert row.status is InterviewStatus.PENDING and row.reminded_at is None
    sessions = create_session_factory(engine)
    assert (
        await send_due_reminders(sessions=sessions, reminder_after=AFTER, now=clock.now + 3 * AFTER)
        == 0
    )
    assert await reminder_rows(engine) == []


async def test_workers_sweeping_at_once_remind_once(
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    clock: Clock,
    world: World,
    other_sessions: list[async_sessionmaker[AsyncSession]],
) -> None:
    await begin_write(session)
    await make_interview(session, settings, world.a, clock.now)
    counts = await asyncio.gather(
        *(
            send_due_reminders(sessions=s, reminder_after=AFTER, now=clock.now + AFTER)
            for s in other_sessions
        )
    )
    assert sum(counts) == 1
    assert len(await reminder_rows(engine)) == 2, "one reminder and one note to the manager"


async def test_a_reminder_for_an_interview_booked_since_is_not_mailed(
    session: AsyncSession, engine: AsyncEngine, settings: Settings, clock: Clock, world: World
) -> None:
    await begin_write(session)
    interview = await make_interview(session, settings, world.a, clock.now)
    sessions = create_session_factory(engine)
    await send_due_reminders(sessions=sessions, reminder_after=AFTER, now=clock.now + AFTER)
    await begin_write(session)
    await book_first_slot(session, settings, world.a, interview, clock.now)
    [reminder] = [
        r
        for r in await reminder_rows(engine)
        if r.payload["kind"] == MessageKind.BOOKING_REMINDER.value
    ]
    transport = RecordingTransport()
    runtime = WorkerRuntime(settings, WorkerOptions(), transport=transport)
    try:
        result = await process(runtime, reminder.id)
    finally:
        await runtime.close()
    assert transport.sent == []
    assert result.reason == "not sent: the interview is booked: no reminder"
