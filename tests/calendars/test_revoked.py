"""A revoked calendar: its interviews and cancellations go by mail instead, the member reads
DISCONNECTED and is told once, and nothing stays PENDING."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.access import load_viewer
from app.calendars.disconnect import DISCONNECT_KEY, start_disconnect
from app.calendars.fallback import CANCEL_MAILED, INVITE_MAILED, REVOKED, lose_connection
from app.calendars.sync import SYNC_TOPIC, sync_interview
from app.config import Settings
from app.db import begin_write, create_session_factory
from app.models import (
    CalendarConnection,
    CalendarProvider,
    ConnectionState,
    Interview,
    Notification,
    OutboxMessage,
    OutboxStatus,
    Participant,
    SyncState,
)
from app.notifications.service import MAIL_TOPIC
from app.outbox.processing import Outcome, process_outbox_message
from app.outbox.topics import failure_recorders
from app.outbox.topics import handlers as topic_handlers
from app.scheduling import requests
from app.workers.calendar import DISCONNECT_GAVE_UP, GAVE_UP
from tests.calendars.conftest import Fakes
from tests.calendars.drain import Drainer, real_time
from tests.calendars.test_disconnect import invite_methods
from tests.calendars.test_freebusy import connect
from tests.calendars.test_reconcile import book_on_day
from tests.conftest import Clock
from tests.factories import World, make_world

GOOGLE = CalendarProvider.GOOGLE


async def state_of(engine: AsyncEngine, interview: Interview, user_id: Any) -> Participant:
    async with create_session_factory(engine)() as fresh:
        found = await fresh.scalar(
            select(Participant).where(
                Participant.interview_id == interview.id, Participant.user_id == user_id
            )
        )
        await fresh.commit()
    assert found is not None
    return found


async def notices(engine: AsyncEngine, user_id: Any) -> int:
    async with create_session_factory(engine)() as fresh:
        told = list(
            await fresh.scalars(
                select(Notification).where(
                    Notification.user_id == user_id, Notification.kind == "CALENDAR_DISCONNECTED"
                )
            )
        )
        await fresh.commit()
    return len(told)


async def connected_world(
    session: AsyncSession, settings: Settings, fakes: Fakes, clock: Clock
) -> World:
    real_time(clock)
    world = await make_world(session)
    await connect(session, settings, fakes, world.a.colleague, GOOGLE)
    await session.commit()
    return world


def revoke(fakes: Fakes, email: str) -> None:
    fakes.google.oauth.revoke(email)
    fakes.google.oauth.expire_access_tokens()


async def cancel(session: AsyncSession, world: World, interview: Interview, clock: Clock) -> None:
    await begin_write(session)
    await requests.cancel_interview(
        session=session,
        viewer=await load_viewer(session, world.a.member),
        interview_id=interview.id,
        reason="filled",
        now=clock.now,
    )
    await session.commit()


async def test_a_revoked_calendar_gets_its_invitations_and_cancellations_by_mail_once(
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    fakes: Fakes,
    clock: Clock,
) -> None:
    world = await connected_world(session, settings, fakes, clock)
    colleague = world.a.colleague
    drainer = Drainer.start(settings)
    try:
        kept = await book_on_day(session, settings, world.a, clock, 1)
        dropped = await book_on_day(session, settings, world.a, clock, 2)
        await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)
        assert len(fakes.google.events(colleague.email)) == 2
        revoke(fakes, colleague.email)

        # Cancelled while the calendar still looks connected: no CANCEL was mailed, and
        # the sync's delete is refused. Then a change of the other interview is synced.
        await cancel(session, world, dropped, clock)
        await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)
        await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)
    finally:
        await drainer.close()

    assert invite_methods(drainer.mail.sent, colleague.email) == ["REQUEST", "CANCEL"]
    assert await notices(engine, colleague.id) == 1
    live = await state_of(engine, kept, colleague.id)
    assert (live.sync_state, live.sync_error) == (SyncState.DISCONNECTED, INVITE_MAILED)
    gone = await state_of(engine, dropped, colleague.id)
    assert (gone.sync_state, gone.sync_error) == (SyncState.DISCONNECTED, CANCEL_MAILED)


async def test_two_workers_meeting_the_refusal_tell_the_member_once(
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    fakes: Fakes,
    clock: Clock,
) -> None:
    world = await connected_world(session, settings, fakes, clock)
    connection = await session.scalar(select(CalendarConnection))
    assert connection is not None
    await session.commit()
    sessions = create_session_factory(engine)
    async with sessions() as first, sessions() as second:
        await begin_write(first)
        # The second worker read the connection as connected before the first broke it.
        seen = await second.get(CalendarConnection, connection.id)
        assert seen is not None and seen.state is ConnectionState.CONNECTED
        await second.commit()
        assert await lose_connection(first, connection.id, reason=REVOKED, now=clock.now)
        await first.commit()
        await begin_write(second)
        assert not await lose_connection(second, connection.id, reason=REVOKED, now=clock.now)
        await second.commit()

    assert await notices(engine, world.a.colleague.id) == 1


async def test_a_booking_synced_after_the_calendar_broke_is_mailed_instead(
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    fakes: Fakes,
    clock: Clock,
) -> None:
    """Booked while the calendar looked connected (so no invite was mailed); another sync
    found it revoked before this booking's sync ran."""
    world = await connected_world(session, settings, fakes, clock)
    colleague = world.a.colleague
    interview = await book_on_day(session, settings, world.a, clock, 1)
    connection = await session.scalar(select(CalendarConnection))
    assert connection is not None
    await session.commit()
    await begin_write(session)
    assert await lose_connection(session, connection.id, reason=REVOKED, now=clock.now)
    await session.commit()

    drainer = Drainer.start(settings)
    try:
        await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)
        await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)  # a second sync mails nothing more
    finally:
        await drainer.close()

    assert invite_methods(drainer.mail.sent, colleague.email) == ["REQUEST"]
    found = await state_of(engine, interview, colleague.id)
    assert (found.sync_state, found.sync_error) == (SyncState.DISCONNECTED, INVITE_MAILED)


async def test_a_sync_row_whose_every_attempt_died_leaves_nobody_pending(
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    fakes: Fakes,
    clock: Clock,
) -> None:
    world = await connected_world(session, settings, fakes, clock)
    interview = await book_on_day(session, settings, world.a, clock, 1)
    drainer = Drainer.start(settings)
    options = drainer.runtime.options
    row = await session.scalar(select(OutboxMessage).where(OutboxMessage.topic == SYNC_TOPIC))
    assert row is not None
    await session.commit()
    await begin_write(session)
    row.attempts = options.max_attempts  # each attempt's worker was killed during it
    await session.commit()
    try:
        result = await process_outbox_message(
            sessions=drainer.runtime.sessions,
            handlers=topic_handlers(drainer.runtime),
            message_id=row.id,
            options=options,
            clock=drainer.clock,
            on_failed=failure_recorders(),
        )
    finally:
        await drainer.close()

    assert result.outcome is Outcome.FAILED
    colleague = await state_of(engine, interview, world.a.colleague.id)
    assert (colleague.sync_state, colleague.sync_error) == (SyncState.FAILED, GAVE_UP)
    async with create_session_factory(engine)() as fresh:
        status = await fresh.scalar(select(OutboxMessage.status).where(OutboxMessage.id == row.id))
        await fresh.commit()
    assert status is OutboxStatus.FAILED
    # The member without a calendar waits for the invite mail, which settles them.
    member = await state_of(engine, interview, world.a.member.id)
    assert member.sync_state is SyncState.PENDING


async def test_an_outlook_copy_whose_create_answer_was_lost_is_removed_on_cancel(
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    fakes: Fakes,
    clock: Clock,
) -> None:
    real_time(clock)
    world = await make_world(session)
    colleague = world.a.colleague
    await connect(session, settings, fakes, colleague, CalendarProvider.MICROSOFT)
    await session.commit()
    interview = await book_on_day(session, settings, world.a, clock, 1)
    fakes.microsoft.faults.fail_next(503, after=True)  # created, but we never hear it
    sessions = create_session_factory(engine)
    first = await sync_interview(
        sessions=sessions, settings=settings, interview_id=interview.id, clock=lambda: clock.now
    )
    assert first.pending == 1 and len(fakes.microsoft.events(colleague.email)) == 1

    await cancel(session, world, interview, clock)
    second = await sync_interview(
        sessions=sessions, settings=settings, interview_id=interview.id, clock=lambda: clock.now
    )

    assert second.deleted == 1
    assert fakes.microsoft.events(colleague.email) == []
    found = await state_of(engine, interview, colleague.id)
    assert found.sync_state is SyncState.SYNCED


async def test_a_cancellation_racing_the_break_is_still_mailed(
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    fakes: Fakes,
    clock: Clock,
) -> None:
    """The break mailed the invitation instead while the interview was being cancelled by a
    transaction that still saw the calendar connected (so it mailed the member no CANCEL):
    the cancellation's sync mails it."""
    world = await connected_world(session, settings, fakes, clock)
    colleague = world.a.colleague
    drainer = Drainer.start(settings)
    try:
        interview = await book_on_day(session, settings, world.a, clock, 1)
        await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)
        connection = await session.scalar(select(CalendarConnection))
        assert connection is not None
        await session.commit()
        await begin_write(session)
        assert await lose_connection(session, connection.id, reason=REVOKED, now=clock.now)
        await session.commit()
        await drainer.drain(MAIL_TOPIC)
        await cancel(session, world, interview, clock)
        # What the racing cancellation would have written: no CANCEL for the member.
        await begin_write(session)
        for row in await session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
        ):
            if row.payload.get("to") == colleague.email and row.payload.get("invite"):
                row.payload = {**row.payload, "invite": None}
                row.status = OutboxStatus.DONE
        await session.commit()
        await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)
        await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)
    finally:
        await drainer.close()

    assert invite_methods(drainer.mail.sent, colleague.email) == ["REQUEST", "CANCEL"]
    found = await state_of(engine, interview, colleague.id)
    assert found.sync_state is SyncState.DISCONNECTED


async def test_a_disconnect_job_whose_every_attempt_died_leaves_nobody_pending(
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    fakes: Fakes,
    clock: Clock,
) -> None:
    world = await connected_world(session, settings, fakes, clock)
    colleague = world.a.colleague
    drainer = Drainer.start(settings)
    options = drainer.runtime.options
    try:
        interview = await book_on_day(session, settings, world.a, clock, 1)
        await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)
        await begin_write(session)
        assert await start_disconnect(
            session=session, user_id=colleague.id, provider=GOOGLE, now=clock.now
        )
        await session.flush()
        row = await session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.topic == SYNC_TOPIC, OutboxMessage.status == OutboxStatus.PENDING
            )
        )
        assert row is not None and DISCONNECT_KEY in row.payload
        row.attempts = options.max_attempts  # each attempt's worker was killed during it
        # A change the sync had not written yet when the member disconnected.
        participant = await session.scalar(
            select(Participant).where(
                Participant.interview_id == interview.id, Participant.user_id == colleague.id
            )
        )
        assert participant is not None
        participant.sync_state = SyncState.PENDING
        await session.commit()
        result = await process_outbox_message(
            sessions=drainer.runtime.sessions,
            handlers=topic_handlers(drainer.runtime),
            message_id=row.id,
            options=options,
            clock=drainer.clock,
            on_failed=failure_recorders(),
        )
    finally:
        await drainer.close()

    assert result.outcome is Outcome.FAILED
    found = await state_of(engine, interview, colleague.id)
    assert (found.sync_state, found.sync_error) == (SyncState.FAILED, DISCONNECT_GAVE_UP)
