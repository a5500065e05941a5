"""Disconnecting a calendar removes what Roundtable wrote there, and the member stays informed.

Through the API and the worker's own handlers: the booked interview leaves the calendar,
the invitation comes by mail instead, and a later cancellation reaches the member as a
CANCEL by mail. When the provider refuses (access revoked), the event stays there, the
participant's sync state says so, and the cancellation is mailed all the same.
"""

from __future__ import annotations

import uuid
from email.message import EmailMessage

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.db import create_session_factory
from app.models import (
    CalendarConnection,
    CalendarProvider,
    OutboxMessage,
    OutboxStatus,
    Participant,
    SyncState,
    User,
)
from app.outbox.topics import MAIL_TOPIC, SYNC_TOPIC
from tests.calendars.conftest import Fakes
from tests.calendars.drain import Drainer, real_time
from tests.calendars.test_freebusy import connect
from tests.conftest import Clock, GraphQLClient
from tests.factories import World, book_first_slot, make_interview, make_world

GOOGLE, MICROSOFT = CalendarProvider.GOOGLE, CalendarProvider.MICROSOFT
DISCONNECT = """mutation($provider: CalendarProvider!) {
  disconnectCalendar(provider: $provider) { disconnected errors { code } } }"""
CANCEL = """mutation($input: CancelInterviewInput!) { cancelInterview(input: $input) {
  errors { code message } } }"""
MINE = "{ myCalendarConnections { provider state } }"


def invite_methods(mails: list[EmailMessage], to: str) -> list[str]:
    """The iCalendar METHOD of every invite mailed to `to`, in order."""
    methods = []
    for mail in mails:
        if str(mail["To"]) != to:
            continue
        for part in mail.walk():
            if part.get_content_type() == "text/calendar":
                methods.append(str(part.get_param("method")))
    return methods


def fake_events(fakes: Fakes, provider: CalendarProvider, email: str) -> list[dict[str, object]]:
    fake = fakes.google if provider is GOOGLE else fakes.microsoft
    return fake.events(email)


async def participant_of(engine: AsyncEngine, user: User) -> Participant:
    async with create_session_factory(engine)() as fresh:
        found = await fresh.scalar(select(Participant).where(Participant.user_id == user.id))
        await fresh.commit()
    assert found is not None
    return found


async def book_and_sync(
    session: AsyncSession,
    settings: Settings,
    fakes: Fakes,
    clock: Clock,
    provider: CalendarProvider,
    drainer: Drainer,
) -> tuple[World, uuid.UUID]:
    real_time(clock)
    world = await make_world(session)
    side = world.a
    await connect(session, settings, fakes, side.colleague, provider)
    await session.commit()
    interview = await make_interview(
        session, settings, side, clock.now, participants=[side.member, side.colleague]
    )
    booked = await book_first_slot(session, settings, side, interview, clock.now)
    await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)
    assert len(fake_events(fakes, provider, side.colleague.email)) == 1
    # A calendar member gets no invite by mail: the calendar holds the interview.
    assert invite_methods(drainer.mail.sent, side.colleague.email) == []
    return world, booked.id


@pytest.mark.parametrize("provider", [GOOGLE, MICROSOFT], ids=str.lower)
async def test_disconnect_removes_the_event_and_mails_the_invite_then_the_cancel(
    provider: CalendarProvider,
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    fakes: Fakes,
    clock: Clock,
    gql: GraphQLClient,
) -> None:
    drainer = Drainer.start(settings)
    try:
        world, interview_id = await book_and_sync(
            session, settings, fakes, clock, provider, drainer
        )
        colleague = world.a.colleague
        token = world.token(colleague)

        done = await gql(DISCONNECT, {"provider": provider.value}, token=token)
        assert done["data"]["disconnectCalendar"] == {"disconnected": True, "errors": []}
        assert (await gql(MINE, token=token))["data"]["myCalendarConnections"] == [
            {"provider": provider.value, "state": "DISCONNECTING"}
        ]
        await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)

        assert fake_events(fakes, provider, colleague.email) == []
        assert (await gql(MINE, token=token))["data"]["myCalendarConnections"] == []
        assert invite_methods(drainer.mail.sent, colleague.email) == ["REQUEST"]
        assert (await participant_of(engine, colleague)).sync_state is SyncState.SYNCED

        cancelled = await gql(
            CANCEL,
            {"input": {"interviewId": str(interview_id), "reason": "filled"}},
            token=world.token(world.a.member),
        )
        assert cancelled["data"]["cancelInterview"]["errors"] == []
        await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)
    finally:
        await drainer.close()
    assert invite_methods(drainer.mail.sent, colleague.email) == ["REQUEST", "CANCEL"]
    assert (await participant_of(engine, colleague)).sync_state is SyncState.SYNCED


@pytest.mark.parametrize("provider", [GOOGLE, MICROSOFT], ids=str.lower)
async def test_disconnect_after_access_was_revoked_says_so_and_mails_the_cancel(
    provider: CalendarProvider,
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    fakes: Fakes,
    clock: Clock,
    gql: GraphQLClient,
) -> None:
    drainer = Drainer.start(settings)
    try:
        world, interview_id = await book_and_sync(
            session, settings, fakes, clock, provider, drainer
        )
        colleague = world.a.colleague
        fake = fakes.google if provider is GOOGLE else fakes.microsoft
        fake.oauth.revoke(colleague.email)
        fake.oauth.expire_access_tokens()

        done = await gql(DISCONNECT, {"provider": provider.value}, token=world.token(colleague))
        assert done["data"]["disconnectCalendar"]["disconnected"] is True
        await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)

        # Left where it was, and said so: nothing PENDING.
        assert len(fake_events(fakes, provider, colleague.email)) == 1
        participant = await participant_of(engine, colleague)
        assert participant.sync_state is SyncState.FAILED
        assert participant.sync_error and "could not remove" in participant.sync_error
        async with create_session_factory(engine)() as fresh:
            assert await fresh.scalar(select(CalendarConnection)) is None
            await fresh.commit()

        cancelled = await gql(
            CANCEL,
            {"input": {"interviewId": str(interview_id), "reason": "filled"}},
            token=world.token(world.a.member),
        )
        assert cancelled["data"]["cancelInterview"]["errors"] == []
        await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)
    finally:
        await drainer.close()
    assert invite_methods(drainer.mail.sent, colleague.email) == ["CANCEL"]
    async with create_session_factory(engine)() as fresh:
        rows = list(await fresh.scalars(select(OutboxMessage)))
        await fresh.commit()
    assert {r.status for r in rows} == {OutboxStatus.DONE}
    assert (await participant_of(engine, colleague)).sync_state is not SyncState.PENDING


async def test_disconnect_before_the_sync_wrote_the_event_mails_the_invite(
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    fakes: Fakes,
    clock: Clock,
    gql: GraphQLClient,
) -> None:
    real_time(clock)
    world = await make_world(session)
    side = world.a
    await connect(session, settings, fakes, side.colleague, GOOGLE)
    await session.commit()
    interview = await make_interview(
        session, settings, side, clock.now, participants=[side.member, side.colleague]
    )
    await book_first_slot(session, settings, side, interview, clock.now)

    done = await gql(DISCONNECT, {"provider": "GOOGLE"}, token=world.token(side.colleague))
    assert done["data"]["disconnectCalendar"]["disconnected"] is True
    drainer = Drainer.start(settings)
    try:
        await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)
    finally:
        await drainer.close()

    assert fakes.google.events(side.colleague.email) == []
    assert invite_methods(drainer.mail.sent, side.colleague.email) == ["REQUEST"]
    assert (await participant_of(engine, side.colleague)).sync_state is SyncState.SYNCED
