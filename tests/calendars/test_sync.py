"""sync_interview: a booked interview lands once in each connected member's calendar."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.access import load_viewer
from app.calendars.sync import SyncResult, sync_interview
from app.config import Settings
from app.db import begin_write, create_session_factory
from app.models import (
    CalendarConnection,
    CalendarEvent,
    CalendarEventState,
    CalendarProvider,
    ConnectionState,
    Interview,
    Notification,
    OutboxMessage,
    Participant,
    SyncState,
)
from app.outbox.topics import SYNC_TOPIC, WEBHOOK_TOPIC
from app.scheduling import requests
from app.webhooks.endpoints import create_endpoint
from tests.calendars.conftest import Fakes
from tests.calendars.test_freebusy import connect
from tests.conftest import Clock
from tests.factories import World, book_first_slot, make_interview, make_world
from tests.fakes import google, microsoft

GOOGLE, MICROSOFT = CalendarProvider.GOOGLE, CalendarProvider.MICROSOFT


async def booked_world(
    session: AsyncSession,
    settings: Settings,
    fakes: Fakes,
    clock: Clock,
    *,
    requester: CalendarProvider = GOOGLE,
    colleague: CalendarProvider = MICROSOFT,
) -> tuple[World, Interview]:
    world = await make_world(session)
    side = world.a
    await connect(session, settings, fakes, side.member, requester)
    await connect(session, settings, fakes, side.colleague, colleague)
    await session.commit()
    interview = await make_interview(
        session, settings, side, clock.now, participants=[side.member, side.colleague]
    )
    booked = await book_first_slot(session, settings, side, interview, clock.now)
    return world, booked


async def run(
    engine: AsyncEngine, settings: Settings, interview: Interview, clock: Clock, **kwargs: bool
) -> SyncResult:
    return await sync_interview(
        sessions=create_session_factory(engine),
        settings=settings,
        interview_id=interview.id,
        clock=clock,
        **kwargs,
    )


def fake_events(fakes: Fakes, provider: CalendarProvider, email: str) -> list[dict[str, object]]:
    fake = fakes.google if provider is GOOGLE else fakes.microsoft
    return fake.events(email)


async def reread(
    engine: AsyncEngine, interview: Interview
) -> tuple[Interview, list[Participant], list[CalendarEvent]]:
    """What the database holds now, through a session of its own."""
    async with create_session_factory(engine)() as fresh:
        found = await fresh.get(Interview, interview.id)
        assert found is not None
        participants = list(
            await fresh.scalars(select(Participant).where(Participant.interview_id == interview.id))
        )
        events = list(
            await fresh.scalars(
                select(CalendarEvent).where(CalendarEvent.interview_id == interview.id)
            )
        )
    return found, participants, events


@pytest.mark.parametrize(
    ("requester", "colleague", "link"),
    [(GOOGLE, MICROSOFT, "meet.google.com"), (MICROSOFT, GOOGLE, "teams.microsoft.com")],
    ids=["google-requester", "microsoft-requester"],
)
async def test_booking_lands_once_in_each_connected_calendar_with_the_conference(
    requester: CalendarProvider,
    colleague: CalendarProvider,
    link: str,
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    fakes: Fakes,
    clock: Clock,
) -> None:
    world, interview = await booked_world(
        session, settings, fakes, clock, requester=requester, colleague=colleague
    )

    result = await run(engine, settings, interview, clock)

    assert (result.written, result.pending, result.failed) == (2, 0, 0)
    fresh, participants, rows = await reread(engine, interview)
    assert fresh.conference_url is not None and link in fresh.conference_url
    [mine] = fake_events(fakes, requester, world.a.member.email)
    [theirs] = fake_events(fakes, colleague, world.a.colleague.email)
    assert fresh.conference_url in str(theirs.get("description") or theirs.get("body"))
    for event in (mine, theirs):
        assert world.a.candidate.name in str(event.get("summary") or event.get("subject"))
    assert {p.sync_state for p in participants} == {SyncState.SYNCED}
    assert {r.state for r in rows} == {CalendarEventState.SYNCED}
    assert {r.provider_event_id for r in rows} == {mine["id"], theirs["id"]}


async def test_a_second_run_writes_nothing(
    session: AsyncSession, engine: AsyncEngine, settings: Settings, fakes: Fakes, clock: Clock
) -> None:
    _, interview = await booked_world(session, settings, fakes, clock)
    await run(engine, settings, interview, clock)
    calls = len(fakes.google.faults.calls) + len(fakes.microsoft.faults.calls)

    result = await run(engine, settings, interview, clock)

    assert (result.written, result.pending) == (0, 0)
    assert len(fakes.google.faults.calls) + len(fakes.microsoft.faults.calls) == calls


async def test_cancelling_removes_the_events(
    session: AsyncSession, engine: AsyncEngine, settings: Settings, fakes: Fakes, clock: Clock
) -> None:
    world, interview = await booked_world(session, settings, fakes, clock)
    await run(engine, settings, interview, clock)
    await requests.cancel_interview(
        session=session,
        viewer=await load_viewer(session, world.a.member),
        interview_id=interview.id,
        reason="position filled",
        now=clock.now,
    )
    await session.commit()

    result = await run(engine, settings, interview, clock)

    assert result.deleted == 2
    assert fake_events(fakes, GOOGLE, world.a.member.email) == []
    assert fake_events(fakes, MICROSOFT, world.a.colleague.email) == []
    _, _, rows = await reread(engine, interview)
    assert {r.state for r in rows} == {CalendarEventState.DELETED}


async def test_a_moved_interview_moves_the_events(
    session: AsyncSession, engine: AsyncEngine, settings: Settings, fakes: Fakes, clock: Clock
) -> None:
    world, interview = await booked_world(session, settings, fakes, clock)
    await run(engine, settings, interview, clock)
    assert interview.booked_start is not None and interview.booked_end is not None
    new_start = interview.booked_start + timedelta(hours=1)
    interview.booked_start, interview.booked_end = (
        new_start,
        interview.booked_end + timedelta(hours=1),
    )
    interview.ical_sequence += 1
    await session.commit()

    result = await run(engine, settings, interview, clock)

    assert result.written == 2
    [event] = fake_events(fakes, GOOGLE, world.a.member.email)
    [theirs] = fake_events(fakes, MICROSOFT, world.a.colleague.email)
    assert google.parse_time(event["start"]) == new_start  # type: ignore[arg-type]
    assert microsoft.parse_dtz(theirs["start"]) == new_start  # type: ignore[arg-type]


async def test_a_lost_answer_is_retried_without_a_second_event(
    session: AsyncSession, engine: AsyncEngine, settings: Settings, fakes: Fakes, clock: Clock
) -> None:
    world, interview = await booked_world(session, settings, fakes, clock)
    fakes.google.faults.fail_next(503, after=True)
    fakes.microsoft.faults.fail_next(503, after=True)

    passes = [await run(engine, settings, interview, clock) for _ in range(3)]

    assert [p.pending for p in passes] == [2, 1, 0]
    assert len(fake_events(fakes, GOOGLE, world.a.member.email)) == 1
    assert len(fake_events(fakes, MICROSOFT, world.a.colleague.email)) == 1


async def test_other_copies_wait_for_the_conference_link(
    session: AsyncSession, engine: AsyncEngine, settings: Settings, fakes: Fakes, clock: Clock
) -> None:
    world, interview = await booked_world(session, settings, fakes, clock)
    fakes.google.faults.fail_next(503)  # the requester's Meet event fails once

    first = await run(engine, settings, interview, clock)

    assert (first.written, first.pending) == (0, 2)
    assert fake_events(fakes, MICROSOFT, world.a.colleague.email) == []
    await run(engine, settings, interview, clock)
    [theirs] = fake_events(fakes, MICROSOFT, world.a.colleague.email)
    assert "meet.google.com" in str(theirs["body"])


async def test_a_rate_limit_leaves_the_write_pending_with_the_providers_delay(
    session: AsyncSession, engine: AsyncEngine, settings: Settings, fakes: Fakes, clock: Clock
) -> None:
    _, interview = await booked_world(session, settings, fakes, clock)
    fakes.microsoft.faults.fail_next(429, retry_after=30)

    result = await run(engine, settings, interview, clock)

    assert (result.written, result.pending, result.retry_after) == (1, 1, 30)
    _, participants, _ = await reread(engine, interview)
    assert sorted(p.sync_state for p in participants) == [SyncState.PENDING, SyncState.SYNCED]


async def test_giving_up_records_the_failure_with_a_reason(
    session: AsyncSession, engine: AsyncEngine, settings: Settings, fakes: Fakes, clock: Clock
) -> None:
    world, interview = await booked_world(session, settings, fakes, clock)
    fakes.microsoft.faults.fail_next(503)

    result = await run(engine, settings, interview, clock, final_attempt=True)

    assert result.failed == 1
    _, participants, _ = await reread(engine, interview)
    failed = next(p for p in participants if p.user_id == world.a.colleague.id)
    assert failed.sync_state is SyncState.FAILED and failed.sync_error


async def test_revoked_access_breaks_the_connection_and_tells_the_member(
    session: AsyncSession, engine: AsyncEngine, settings: Settings, fakes: Fakes, clock: Clock
) -> None:
    world, interview = await booked_world(session, settings, fakes, clock)
    fakes.microsoft.oauth.revoke(world.a.colleague.email)
    fakes.microsoft.oauth.expire_access_tokens()

    result = await run(engine, settings, interview, clock)

    assert (result.written, result.failed, result.disconnected) == (1, 0, 1)
    async with create_session_factory(engine)() as fresh:
        connection = await fresh.scalar(
            select(CalendarConnection).where(CalendarConnection.user_id == world.a.colleague.id)
        )
        told = list(
            await fresh.scalars(
                select(Notification).where(
                    Notification.user_id == world.a.colleague.id,
                    Notification.kind == "CALENDAR_DISCONNECTED",
                )
            )
        )
    assert connection is not None and connection.state is ConnectionState.BROKEN
    assert len(told) == 1
    _, participants, _ = await reread(engine, interview)
    lost = next(p for p in participants if p.user_id == world.a.colleague.id)
    assert lost.sync_state is SyncState.DISCONNECTED and "connect" in (lost.sync_error or "")


async def test_a_sync_request_is_an_outbox_row_of_the_change(
    session: AsyncSession, engine: AsyncEngine, settings: Settings, fakes: Fakes, clock: Clock
) -> None:
    # Booking asks for the sync itself, in its own transaction.
    _, interview = await booked_world(session, settings, fakes, clock)

    rows = list(
        await session.scalars(select(OutboxMessage).where(OutboxMessage.topic == SYNC_TOPIC))
    )
    assert [r.payload for r in rows] == [{"interview_id": str(interview.id)}]


async def test_giving_up_tells_webhooks_which_participant_failed(
    session: AsyncSession, engine: AsyncEngine, settings: Settings, fakes: Fakes, clock: Clock
) -> None:
    world, interview = await booked_world(session, settings, fakes, clock)
    await begin_write(session)
    await create_endpoint(
        session=session,
        settings=settings,
        by=world.admin,
        url="https://93.184.215.14/hooks",
        events=["interview.sync_failed"],
    )
    await session.commit()
    fakes.microsoft.faults.fail_next(503)

    await run(engine, settings, interview, clock, final_attempt=True)

    rows = list(
        await session.scalars(select(OutboxMessage).where(OutboxMessage.topic == WEBHOOK_TOPIC))
    )
    await session.commit()
    [row] = rows
    data = json.loads(row.payload["body"])["data"]
    assert data["interview"]["id"] == str(interview.id)
    assert data["participant"]["email"] == world.a.colleague.email
    assert data["participant"]["reason"]
