"""The database's own last line of defence against double booking (PostgreSQL EXCLUDE).

The booking service locks the people it books, so its tests never reach the constraint:
here rows go in directly, as a second server without those locks (or a bug) would write them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.db import create_session_factory
from app.models import SlotReservation
from app.scheduling.booking import EXCLUSION_VIOLATION, _sqlstate
from tests.conftest import Clock
from tests.factories import make_interview, make_world

NINE = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _postgres(backend: str) -> None:
    if backend != "postgres":
        pytest.skip("SQLite has no exclusion constraints: its writers are serialised instead")


async def _insert(engine: AsyncEngine, *rows: SlotReservation) -> None:
    async with create_session_factory(engine)() as session:
        session.add_all(rows)
        await session.commit()


async def test_overlapping_reservations_of_one_person_are_refused_by_the_database(
    engine: AsyncEngine, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    world = await make_world(session)
    first = await make_interview(session, settings, world.a, clock.now)
    second = await make_interview(session, settings, world.a, clock.now)
    person = world.a.candidate.id
    await _insert(
        engine,
        SlotReservation(
            interview_id=first.id, user_id=person, starts_at=NINE, ends_at=NINE + timedelta(hours=1)
        ),
    )
    with pytest.raises(IntegrityError) as caught:
        await _insert(
            engine,
            SlotReservation(
                interview_id=second.id,
                user_id=person,
                starts_at=NINE + timedelta(minutes=59),
                ends_at=NINE + timedelta(hours=2),
            ),
        )
    assert _sqlstate(caught.value) == EXCLUSION_VIOLATION

    # Touching ranges ('[)') and other people at the same time are allowed.
    await _insert(
        engine,
        SlotReservation(
            interview_id=second.id,
            user_id=person,
            starts_at=NINE + timedelta(hours=1),
            ends_at=NINE + timedelta(hours=2),
        ),
        SlotReservation(
            interview_id=first.id,
            user_id=world.a.member.id,
            starts_at=NINE,
            ends_at=NINE + timedelta(hours=1),
        ),
    )
    count = await session.scalar(text("SELECT count(*) FROM slot_reservations"))
    assert count == 3
