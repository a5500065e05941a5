"""A moved booking updates the event already in each connected calendar: one event, new time."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.calendars.sync import sync_interview
from app.config import Settings
from app.db import create_session_factory
from app.models import CalendarEvent, CalendarProvider
from app.scheduling.windows import WindowText
from tests.calendars.conftest import Fakes, Harness
from tests.calendars.test_booking_with_calendars import at
from tests.calendars.test_freebusy import connect
from tests.conftest import Clock, GraphQLClient
from tests.factories import make_interview, make_world

BOOK = (
    """mutation($input: BookInterviewInput!) { bookInterview(input: $input) { errors { code } } }"""
)
MOVE = """mutation($input: MoveBookingInput!) { moveBooking(input: $input) { errors { code } } }"""
WINDOWS = [
    WindowText("2026-03-05T09:00", "2026-03-05T10:00"),
    WindowText("2026-03-06T09:00", "2026-03-06T10:00"),
]


@pytest.mark.parametrize("provider", [CalendarProvider.GOOGLE, CalendarProvider.MICROSOFT])
async def test_a_move_updates_the_same_calendar_event(
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    fakes: Fakes,
    gql: GraphQLClient,
    clock: Clock,
    provider: CalendarProvider,
) -> None:
    world = await make_world(session)
    await connect(session, settings, fakes, world.a.member, provider)
    await session.commit()
    interview = await make_interview(
        session, settings, world.a, clock.now, windows=WINDOWS, time_zone="UTC"
    )
    token = world.token(world.a.candidate)
    start = {"interviewId": str(interview.id), "timeZone": "UTC"}
    assert (await gql(BOOK, {"input": {**start, "start": "2026-03-05T09:00:00Z"}}, token=token))[
        "data"
    ]["bookInterview"]["errors"] == []
    sessions = create_session_factory(engine)
    await sync_interview(
        sessions=sessions, settings=settings, interview_id=interview.id, clock=clock
    )
    harness = Harness(provider, settings, fakes, world.a.member.email)
    [first] = harness.events()
    assert (await gql(MOVE, {"input": {**start, "start": "2026-03-06T09:30:00Z"}}, token=token))[
        "data"
    ]["moveBooking"]["errors"] == []
    synced = await sync_interview(
        sessions=sessions, settings=settings, interview_id=interview.id, clock=clock
    )
    assert (synced.written, synced.failed) == (1, 0)
    [moved] = harness.events()
    assert moved["id"] == first["id"]
    assert harness.event_times(moved) == (at("2026-03-06T09:30"), at("2026-03-06T10:00"))
    row = await session.scalar(
        select(CalendarEvent).where(CalendarEvent.interview_id == interview.id)
    )
    assert row is not None and row.sequence == 1
