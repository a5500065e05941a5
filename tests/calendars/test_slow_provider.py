"""A slow calendar provider delays nobody else: no transaction is open while it answers.

The fake keeps the provider's call open (a `Hold`, released by the test, 3 s at most) and
the test orders things around it rather than timing them: an unrelated booking and an
unrelated write must complete while the call is still held, on SQLite (one writer: a
transaction left open across the call would make them wait for it) and on PostgreSQL (no
session may sit "idle in transaction", holding row locks and a pooled connection).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.calendars.sync import sync_interview
from app.config import Settings
from app.db import create_session_factory
from app.models import CalendarProvider, Interview, User
from tests.calendars.conftest import Fakes
from tests.calendars.test_booking_with_calendars import BOOK, SLOTS, WINDOWS
from tests.calendars.test_freebusy import connect
from tests.calendars.test_oauth import consent, start_connect
from tests.conftest import Clock, GraphQLClient
from tests.factories import Side, World, make_interview, make_world
from tests.fakes.base import Hold

RENAME = """mutation { updateMe(input: {name: "Renamed meanwhile"}) { user { name } errors { code } } }"""


async def idle_transactions(engine: AsyncEngine) -> int:
    """Sessions of this database holding a transaction open while doing nothing (PostgreSQL)."""
    if engine.dialect.name != "postgresql":
        return 0
    async with engine.connect() as conn:
        found = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
            )
        )
    return int(found or 0)


async def two_interviews(
    session: AsyncSession, settings: Settings, fakes: Fakes, clock: Clock
) -> tuple[World, Interview, Interview]:
    """One interview whose member's Google Calendar is slow, one with nobody connected."""
    world = await make_world(session)
    await connect(session, settings, fakes, world.a.member, CalendarProvider.GOOGLE)
    await session.commit()

    async def interview(side: Side) -> Interview:
        return await make_interview(
            session,
            settings,
            side,
            clock.now,
            windows=WINDOWS,
            time_zone="UTC",
            participants=[side.member],
        )

    slow, other = await interview(world.a), await interview(world.b)
    await session.commit()
    return world, slow, other


def book(interview: Interview) -> dict[str, Any]:
    return {
        "input": {
            "interviewId": str(interview.id),
            "start": "2026-03-05T09:00:00Z",
            "timeZone": "UTC",
        }
    }


async def meanwhile(
    hold: Hold, engine: AsyncEngine, gql: GraphQLClient, world: World, other: Interview
) -> tuple[dict[str, Any], dict[str, Any], int, bool]:
    """While the provider holds its call: book the other interview, write something else."""
    await hold.wait_entered()
    booked = await gql(BOOK, book(other), token=world.token(world.b.candidate))
    renamed = await gql(RENAME, token=world.token(world.b.member))
    idle = await idle_transactions(engine)
    still_held = not hold.answered.is_set()
    hold.release.set()
    return booked, renamed, idle, still_held


async def test_a_slow_free_busy_answer_delays_no_other_booking(
    session: AsyncSession,
    settings: Settings,
    fakes: Fakes,
    gql: GraphQLClient,
    clock: Clock,
    engine: AsyncEngine,
) -> None:
    world, slow, other = await two_interviews(session, settings, fakes, clock)
    hold = fakes.google.faults.hold_next(3.0)

    slow_booking = asyncio.create_task(gql(BOOK, book(slow), token=world.token(world.a.candidate)))
    booked, renamed, idle, still_held = await meanwhile(hold, engine, gql, world, other)
    first = await slow_booking

    assert booked["data"]["bookInterview"] == {"interview": {"status": "BOOKED"}, "errors": []}
    assert renamed["data"]["updateMe"]["errors"] == []
    assert still_held, "the unrelated writes waited for the provider's answer"
    assert idle == 0, "a transaction stayed open across the provider call"
    assert first["data"]["bookInterview"] == {"interview": {"status": "BOOKED"}, "errors": []}
    assert hold.answered.is_set()  # the booking did wait for the calendar's answer


async def test_slow_free_busy_while_listing_slots_delays_no_write(
    session: AsyncSession,
    settings: Settings,
    fakes: Fakes,
    gql: GraphQLClient,
    clock: Clock,
    engine: AsyncEngine,
) -> None:
    world, slow, other = await two_interviews(session, settings, fakes, clock)
    hold = fakes.google.faults.hold_next(3.0)

    listing = asyncio.create_task(
        gql(SLOTS, {"id": str(slow.id)}, token=world.token(world.a.candidate))
    )
    booked, renamed, idle, still_held = await meanwhile(hold, engine, gql, world, other)
    slots = await listing

    assert booked["data"]["bookInterview"]["errors"] == []
    assert renamed["data"]["updateMe"]["errors"] == []
    assert still_held and idle == 0
    assert slots["data"]["availableSlots"]["uncheckedCalendars"] == []


async def test_a_slow_calendar_write_delays_no_booking(
    session: AsyncSession,
    settings: Settings,
    fakes: Fakes,
    gql: GraphQLClient,
    clock: Clock,
    engine: AsyncEngine,
) -> None:
    """The sync reads its plan, writes to the provider, records the answer: three steps, and
    only the middle one waits on the network."""
    world, slow, other = await two_interviews(session, settings, fakes, clock)
    booked = await gql(BOOK, book(slow), token=world.token(world.a.candidate))
    assert booked["data"]["bookInterview"]["errors"] == []
    hold = fakes.google.faults.hold_next(3.0)

    syncing = asyncio.create_task(
        sync_interview(
            sessions=create_session_factory(engine),
            settings=settings,
            interview_id=slow.id,
            clock=clock,
        )
    )
    other_booked, renamed, idle, still_held = await meanwhile(hold, engine, gql, world, other)
    result = await syncing

    assert other_booked["data"]["bookInterview"]["errors"] == []
    assert renamed["data"]["updateMe"]["errors"] == []
    assert still_held and idle == 0
    assert result.written == 1


async def test_the_oauth_callback_completes_while_a_worker_keeps_writing(
    session: AsyncSession,
    settings: Settings,
    fakes: Fakes,
    gql: GraphQLClient,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
) -> None:
    """On SQLite a transaction held across the provider's answers made the callback's write
    fail with "database is locked" whenever the worker wrote meanwhile (28 of 30 tries)."""
    world = await make_world(session)
    member = world.a.member
    await session.commit()
    stop = asyncio.Event()
    writes = 0

    async def worker_writes() -> None:
        nonlocal writes
        while not stop.is_set():
            async with engine.begin() as conn:
                await conn.execute(
                    update(User).where(User.id == world.b.member.id).values(name=f"w{writes}")
                )
            writes += 1
            await asyncio.sleep(0.01)

    writer = asyncio.create_task(worker_writes())
    answers = []
    try:
        for _ in range(5):
            params = await start_connect(gql, world.token(member), CalendarProvider.GOOGLE)
            fakes.google.faults.slow_next(0.2)  # the account read: the worker writes meanwhile
            answers.append(
                await consent(client, fakes, CalendarProvider.GOOGLE, params, member.email)
            )
    finally:
        stop.set()
        await writer

    assert [a.status_code for a in answers] == [200] * 5, [a.text for a in answers]
    assert writes > 5
