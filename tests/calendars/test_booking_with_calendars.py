"""Booking meets connected calendars: busy time hides slots; events replace mailed invites."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.calendars.sync import sync_interview
from app.config import Settings
from app.db import create_session_factory
from app.models import CalendarProvider, OutboxMessage
from app.scheduling.windows import WindowText
from tests.calendars.conftest import Fakes
from tests.calendars.test_freebusy import connect
from tests.conftest import Clock, GraphQLClient
from tests.factories import make_interview, make_world

SLOTS = """query($id: ID!) { availableSlots(interviewId: $id, timeZone: "UTC") {
  days { slots { start } } warning uncheckedCalendars } }"""
BOOK = """mutation($input: BookInterviewInput!) { bookInterview(input: $input) {
  interview { status } errors { code } } }"""
WINDOWS = [
    WindowText("2026-03-05T09:00", "2026-03-05T11:00"),
    WindowText("2026-03-06T09:00", "2026-03-06T09:30"),
]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def test_a_busy_block_removes_exactly_the_overlapping_slots(
    session: AsyncSession, settings: Settings, fakes: Fakes, gql: GraphQLClient, clock: Clock
) -> None:
    world = await make_world(session)
    await connect(session, settings, fakes, world.a.colleague, CalendarProvider.MICROSOFT)
    await session.commit()
    interview = await make_interview(
        session,
        settings,
        world.a,
        clock.now,
        windows=WINDOWS,
        time_zone="UTC",
        participants=[world.a.member, world.a.colleague],
    )
    fakes.microsoft.add_busy(
        world.a.colleague.email, at("2026-03-05T09:40"), at("2026-03-05T10:10")
    )
    body = await gql(SLOTS, {"id": str(interview.id)}, token=world.token(world.a.candidate))
    result = body["data"]["availableSlots"]
    starts = [s["start"] for d in result["days"] for s in d["slots"]]
    assert starts == [
        "2026-03-05T09:00:00+00:00",
        "2026-03-05T10:30:00+00:00",
        "2026-03-06T09:00:00+00:00",
    ]
    assert result["uncheckedCalendars"] == []
    busy = await gql(
        BOOK,
        {
            "input": {
                "interviewId": str(interview.id),
                "start": "2026-03-05T09:30:00Z",
                "timeZone": "UTC",
            }
        },
        token=world.token(world.a.candidate),
    )
    assert busy["data"]["bookInterview"]["errors"] == [{"code": "SLOT_UNAVAILABLE"}]


async def test_an_unreachable_calendar_is_named_not_fatal(
    session: AsyncSession, settings: Settings, fakes: Fakes, gql: GraphQLClient, clock: Clock
) -> None:
    world = await make_world(session)
    await connect(session, settings, fakes, world.a.member, CalendarProvider.GOOGLE)
    await session.commit()
    interview = await make_interview(
        session, settings, world.a, clock.now, windows=WINDOWS, time_zone="UTC"
    )
    fakes.google.faults.fail_next(503, times=10)
    body = await gql(SLOTS, {"id": str(interview.id)}, token=world.token(world.a.candidate))
    result = body["data"]["availableSlots"]
    assert len(result["days"][0]["slots"]) == 4
    assert result["uncheckedCalendars"] == [f"{world.a.member.email} (Google)"]
    assert world.a.member.email in result["warning"]


async def test_connected_members_get_the_event_not_a_mailed_invite(
    session: AsyncSession, settings: Settings, fakes: Fakes, gql: GraphQLClient, clock: Clock
) -> None:
    world = await make_world(session)
    await connect(session, settings, fakes, world.a.member, CalendarProvider.GOOGLE)
    await session.commit()
    interview = await make_interview(
        session,
        settings,
        world.a,
        clock.now,
        windows=WINDOWS,
        time_zone="UTC",
        participants=[world.a.member, world.a.colleague],
    )
    booked = await gql(
        BOOK,
        {
            "input": {
                "interviewId": str(interview.id),
                "start": "2026-03-05T09:00:00Z",
                "timeZone": "UTC",
            }
        },
        token=world.token(world.a.candidate),
    )
    assert booked["data"]["bookInterview"]["errors"] == []
    rows = list(await session.scalars(select(OutboxMessage)))
    invites = {
        r.payload["to"]: r.payload["invite"]
        for r in rows
        if r.topic == "mail" and r.payload["kind"] == "INTERVIEW_BOOKED"
    }
    assert invites[world.a.member.email] is None
    assert invites[world.a.colleague.email] == "REQUEST"
    assert [r.payload["interview_id"] for r in rows if r.topic == "calendar_sync"] == [
        str(interview.id)
    ]


async def test_a_member_who_connected_after_booking_gets_the_cancellation_by_mail(
    session: AsyncSession, settings: Settings, fakes: Fakes, gql: GraphQLClient, clock: Clock
) -> None:
    world = await make_world(session)
    interview = await make_interview(
        session,
        settings,
        world.a,
        clock.now,
        windows=WINDOWS,
        time_zone="UTC",
        participants=[world.a.member, world.a.colleague],
    )
    booked = await gql(
        BOOK,
        {
            "input": {
                "interviewId": str(interview.id),
                "start": "2026-03-05T09:00:00Z",
                "timeZone": "UTC",
            }
        },
        token=world.token(world.a.candidate),
    )
    assert booked["data"]["bookInterview"]["errors"] == []
    # The invite went by mail; only now does the member connect a calendar.
    await connect(session, settings, fakes, world.a.member, CalendarProvider.GOOGLE)
    await session.commit()
    cancel = (
        """mutation($id: ID!) { cancelInterview(input: {interviewId: $id}) { errors { code } } }"""
    )
    assert (await gql(cancel, {"id": str(interview.id)}, token=world.token(world.a.colleague)))[
        "data"
    ] == {"cancelInterview": {"errors": []}}
    rows = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "mail")))
    cancels = {
        r.payload["to"]: r.payload["invite"]
        for r in rows
        if r.payload["kind"] == "INTERVIEW_CANCELLED"
    }
    assert cancels[world.a.member.email] == "CANCEL"
    assert cancels[world.a.colleague.email] == "CANCEL"


async def test_a_member_holding_the_event_gets_no_cancellation_mail(
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    fakes: Fakes,
    gql: GraphQLClient,
    clock: Clock,
) -> None:
    world = await make_world(session)
    await connect(session, settings, fakes, world.a.member, CalendarProvider.GOOGLE)
    await session.commit()
    interview = await make_interview(
        session,
        settings,
        world.a,
        clock.now,
        windows=WINDOWS,
        time_zone="UTC",
        participants=[world.a.member, world.a.colleague],
    )
    await gql(
        BOOK,
        {
            "input": {
                "interviewId": str(interview.id),
                "start": "2026-03-05T09:00:00Z",
                "timeZone": "UTC",
            }
        },
        token=world.token(world.a.candidate),
    )
    synced = await sync_interview(
        sessions=create_session_factory(engine),
        settings=settings,
        interview_id=interview.id,
        clock=clock,
    )
    assert (synced.written, synced.failed) == (1, 0)
    assert len(fakes.google.events(world.a.member.email)) == 1
    cancel = (
        """mutation($id: ID!) { cancelInterview(input: {interviewId: $id}) { errors { code } } }"""
    )
    await gql(cancel, {"id": str(interview.id)}, token=world.token(world.a.colleague))
    rows = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "mail")))
    cancels = {
        r.payload["to"]: r.payload["invite"]
        for r in rows
        if r.payload["kind"] == "INTERVIEW_CANCELLED"
    }
    assert cancels[world.a.member.email] is None  # the sync removes the event instead
    assert cancels[world.a.colleague.email] == "CANCEL"
    await sync_interview(
        sessions=create_session_factory(engine),
        settings=settings,
        interview_id=interview.id,
        clock=clock,
    )
    assert fakes.google.events(world.a.member.email) == []
