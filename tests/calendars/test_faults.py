"""Under random provider failures (30% of calls, half of them after the work was done),
retrying until done leaves exactly one event per write, never two."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.calendars.base import EventSpec, Retryable, event_key, interview_uid
from app.config import Settings
from tests.calendars.conftest import Fakes, Harness
from tests.calendars.test_sync import booked_world, run
from tests.conftest import Clock
from tests.factories import book_first_slot, make_interview

MAX_TRIES = 40


async def test_a_hundred_creates_under_failures_make_a_hundred_events(harness: Harness) -> None:
    harness.fake.faults.fail_randomly(0.3, seed=7)
    client = harness.client()
    start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    keys = []
    for n in range(100):
        interview_id = uuid.uuid4()
        spec = EventSpec(
            key=event_key(interview_id, uuid.uuid4()),
            ical_uid=interview_uid(interview_id),
            sequence=0,
            title=f"Interview {n}",
            description="",
            start=start + timedelta(minutes=30 * n),
            end=start + timedelta(minutes=30 * n + 30),
            time_zone="UTC",
        )
        for _ in range(MAX_TRIES):
            try:
                written = await client.create_event(spec)
                break
            except Retryable:
                continue
        else:
            raise AssertionError("a create never succeeded")
        keys.append(written.provider_event_id)

    events = harness.events()
    assert harness.fake.faults.injected >= 20
    assert len(events) == 100
    assert sorted(e["id"] for e in events) == sorted(keys)
    assert len(set(keys)) == 100


async def test_bookings_synced_under_failures_have_one_event_per_member(
    session: AsyncSession, engine: AsyncEngine, settings: Settings, fakes: Fakes, clock: Clock
) -> None:
    world, first = await booked_world(session, settings, fakes, clock)
    side = world.a
    interviews = [first]
    for day in range(1, 8):  # more bookings of the same members, on later days
        later = clock.now + timedelta(days=day)
        interview = await make_interview(
            session, settings, side, later, participants=[side.member, side.colleague]
        )
        interviews.append(await book_first_slot(session, settings, side, interview, later))
    for fake, seed in ((fakes.google, 11), (fakes.microsoft, 12)):
        fake.faults.fail_next(503, after=True)  # at least one lost answer, whatever the dice say
        fake.faults.fail_randomly(0.3, seed=seed)

    for interview in interviews:
        for _ in range(MAX_TRIES):
            if (await run(engine, settings, interview, clock)).pending == 0:
                break

    assert fakes.google.faults.injected > 0 and fakes.microsoft.faults.injected > 0
    assert len(fakes.google.events(side.member.email)) == len(interviews)
    assert len(fakes.microsoft.events(side.colleague.email)) == len(interviews)
