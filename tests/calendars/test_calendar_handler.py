"""The calendar-sync topic: the real sync against the fake providers, as the worker runs it.

Provider trouble becomes outbox retries honouring Retry-After; the last attempt records the
failure on the participant and fails the row; a clean pass writes the event and is done.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import CalendarProvider, Interview, Participant, SyncState, User
from app.outbox.errors import PermanentDeliveryError, TransientDeliveryError
from app.outbox.processing import ClaimedMessage
from app.outbox.topics import SYNC_TOPIC
from app.workers import calendar
from app.workers.options import WorkerOptions
from app.workers.runtime import WorkerRuntime
from tests.calendars.conftest import Fakes
from tests.calendars.test_freebusy import connect
from tests.conftest import Clock
from tests.factories import book_first_slot, make_interview, make_world

MAX_ATTEMPTS = 3


def claimed(interview: Interview, attempts: int) -> ClaimedMessage:
    return ClaimedMessage(
        id=uuid.uuid4(),
        topic=SYNC_TOPIC,
        payload={"interview_id": str(interview.id)},
        created_at=datetime.now(UTC),
        attempts=attempts,
    )


@pytest.fixture
async def runtime(settings: Settings, clock: Clock) -> AsyncIterator[WorkerRuntime]:
    runtime = WorkerRuntime(settings, WorkerOptions(max_attempts=MAX_ATTEMPTS), clock=clock)
    yield runtime
    await runtime.close()


@pytest.fixture
async def booked(
    session: AsyncSession, settings: Settings, fakes: Fakes, clock: Clock
) -> tuple[Interview, User]:
    """A booked interview whose one member has connected Google."""
    world = await make_world(session)
    member = world.a.member
    await connect(session, settings, fakes, member, CalendarProvider.GOOGLE)
    await session.commit()
    interview = await make_interview(session, settings, world.a, clock.now, participants=[member])
    await book_first_slot(session, settings, world.a, interview, clock.now)
    return interview, member


async def sync_state(session: AsyncSession, interview: Interview) -> SyncState:
    state = await session.scalar(
        select(Participant.sync_state).where(Participant.interview_id == interview.id)
    )
    await session.commit()
    assert state is not None
    return state


async def test_a_busy_provider_is_a_transient_error_with_its_retry_after(
    runtime: WorkerRuntime,
    session: AsyncSession,
    fakes: Fakes,
    booked: tuple[Interview, User],
) -> None:
    interview, member = booked
    fakes.google.faults.fail_next(429, retry_after=45)
    with pytest.raises(TransientDeliveryError) as caught:
        await calendar.sync_calendars(claimed(interview, 1), runtime=runtime)
    assert caught.value.retry_after == 45.0
    assert "1 calendar writes to retry" in caught.value.reason
    assert "429" in caught.value.reason
    assert fakes.google.events(member.email) == []
    assert await sync_state(session, interview) is SyncState.PENDING

    # The retry finds the provider well again: the event is written, the row is done.
    assert await calendar.sync_calendars(claimed(interview, 2), runtime=runtime) is None
    [event] = fakes.google.events(member.email)
    assert event["start"]["dateTime"]
    assert await sync_state(session, interview) is SyncState.SYNCED


async def test_the_last_attempt_records_the_failure_and_fails_the_row(
    runtime: WorkerRuntime,
    session: AsyncSession,
    fakes: Fakes,
    booked: tuple[Interview, User],
) -> None:
    interview, member = booked
    fakes.google.faults.fail_next(503)
    with pytest.raises(PermanentDeliveryError, match="1 calendar writes failed") as caught:
        await calendar.sync_calendars(claimed(interview, MAX_ATTEMPTS), runtime=runtime)
    assert "503" in caught.value.reason
    assert fakes.google.events(member.email) == []
    assert await sync_state(session, interview) is SyncState.FAILED


async def test_a_clean_pass_is_done_and_a_second_one_writes_nothing_twice(
    runtime: WorkerRuntime,
    session: AsyncSession,
    fakes: Fakes,
    booked: tuple[Interview, User],
) -> None:
    interview, member = booked
    assert await calendar.sync_calendars(claimed(interview, 1), runtime=runtime) is None
    assert await calendar.sync_calendars(claimed(interview, 1), runtime=runtime) is None
    assert len(fakes.google.events(member.email)) == 1
    assert await sync_state(session, interview) is SyncState.SYNCED
