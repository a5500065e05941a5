"""calendar_busy: one provider call per connection, cached briefly, failures reported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.calendars import freebusy
from app.calendars.base import AccountInfo
from app.calendars.connections import save_connection, token_cipher
from app.calendars.freebusy import calendar_busy
from app.config import Settings
from app.models import CalendarConnection, CalendarProvider, ConnectionState, User
from app.scheduling.windows import TimeRange
from tests.calendars.conftest import Fakes, token_set
from tests.factories import make_world
from tests.fakes import microsoft

DAY = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
START, END = DAY + timedelta(hours=8), DAY + timedelta(hours=18)


async def connect(
    session: AsyncSession,
    settings: Settings,
    fakes: Fakes,
    user: User,
    provider: CalendarProvider,
    *,
    expired: bool = False,
) -> CalendarConnection:
    email = user.email
    if provider is CalendarProvider.GOOGLE:
        tokens, calendar_id = fakes.google.oauth.issue_tokens(email), email
    else:
        tokens, calendar_id = (
            fakes.microsoft.oauth.issue_tokens(email),
            microsoft.calendar_id_of(email),
        )
    return await save_connection(
        session=session,
        settings=settings,
        user_id=user.id,
        provider=provider,
        account=AccountInfo(email=email, calendar_id=calendar_id),
        tokens=token_set(tokens, expired=expired),
        now=DAY,
    )


async def test_busy_blocks_of_every_connected_member_are_merged(
    session: AsyncSession, settings: Settings, fakes: Fakes
) -> None:
    world = await make_world(session)
    member, colleague = world.a.member, world.a.colleague
    await connect(session, settings, fakes, member, CalendarProvider.GOOGLE)
    await connect(session, settings, fakes, colleague, CalendarProvider.MICROSOFT)
    fakes.google.add_busy(member.email, DAY + timedelta(hours=9), DAY + timedelta(hours=10))
    fakes.microsoft.add_busy(colleague.email, DAY + timedelta(hours=13), DAY + timedelta(hours=14))
    fakes.microsoft.add_busy(
        colleague.email, DAY + timedelta(hours=15), DAY + timedelta(hours=16), show_as="free"
    )

    result = await calendar_busy(session, [member.id, colleague.id], START, END, settings=settings)

    assert result.unchecked == []
    assert result.ranges == [
        TimeRange(DAY + timedelta(hours=9), DAY + timedelta(hours=10)),
        TimeRange(DAY + timedelta(hours=13), DAY + timedelta(hours=14)),
    ]


async def test_a_failing_provider_is_reported_unchecked_not_raised(
    session: AsyncSession, settings: Settings, fakes: Fakes
) -> None:
    world = await make_world(session)
    member, colleague = world.a.member, world.a.colleague
    await connect(session, settings, fakes, member, CalendarProvider.GOOGLE)
    await connect(session, settings, fakes, colleague, CalendarProvider.MICROSOFT)
    fakes.microsoft.add_busy(colleague.email, DAY + timedelta(hours=13), DAY + timedelta(hours=14))
    fakes.google.faults.fail_next(503)

    result = await calendar_busy(session, [member.id, colleague.id], START, END, settings=settings)

    assert result.unchecked == [f"{member.email} (Google)"]
    assert result.ranges == [TimeRange(DAY + timedelta(hours=13), DAY + timedelta(hours=14))]


async def test_a_second_ask_within_the_cache_time_makes_no_provider_call(
    session: AsyncSession, settings: Settings, fakes: Fakes
) -> None:
    world = await make_world(session)
    member = world.a.member
    await connect(session, settings, fakes, member, CalendarProvider.GOOGLE)
    fakes.google.add_busy(member.email, DAY + timedelta(hours=9), DAY + timedelta(hours=10))

    first = await calendar_busy(session, [member.id], START, END, settings=settings)
    second = await calendar_busy(session, [member.id], START, END, settings=settings)

    assert first == second
    assert len(fakes.google.faults.calls) == 1


async def test_a_broken_connection_is_unchecked_without_a_call(
    session: AsyncSession, settings: Settings, fakes: Fakes
) -> None:
    world = await make_world(session)
    connection = await connect(session, settings, fakes, world.a.member, CalendarProvider.GOOGLE)
    connection.state = ConnectionState.BROKEN

    result = await calendar_busy(session, [world.a.member.id], START, END, settings=settings)

    assert result.unchecked == [f"{world.a.member.email} (Google)"]
    assert fakes.google.faults.calls == []


async def test_a_refreshed_token_is_written_back_encrypted(
    session: AsyncSession, settings: Settings, fakes: Fakes
) -> None:
    world = await make_world(session)
    connection = await connect(
        session, settings, fakes, world.a.member, CalendarProvider.MICROSOFT, expired=True
    )
    before = token_cipher(settings.secret_key).decrypt(connection.token_ciphertext)

    result = await calendar_busy(session, [world.a.member.id], START, END, settings=settings)

    after = token_cipher(settings.secret_key).decrypt(connection.token_ciphertext)
    assert result.unchecked == []
    assert after.access_token != before.access_token
    assert after.refresh_token != before.refresh_token  # Microsoft rotates them


async def test_users_without_connections_have_no_busy_time(
    session: AsyncSession, settings: Settings, fakes: Fakes
) -> None:
    world = await make_world(session)

    result = await calendar_busy(session, [world.a.member.id], START, END, settings=settings)

    assert result.ranges == [] and result.unchecked == []


async def test_a_cached_answer_expires_after_the_cache_time(
    session: AsyncSession, settings: Settings, fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await make_world(session)
    member = world.a.member
    await connect(session, settings, fakes, member, CalendarProvider.GOOGLE)
    clock = [1000.0]
    monkeypatch.setattr(freebusy, "monotonic", lambda: clock[0])

    first = await calendar_busy(session, [member.id], START, END, settings=settings)
    fakes.google.add_busy(member.email, DAY + timedelta(hours=9), DAY + timedelta(hours=10))
    clock[0] += settings.freebusy_cache_seconds - 1
    assert await calendar_busy(session, [member.id], START, END, settings=settings) == first
    clock[0] += 2
    later = await calendar_busy(session, [member.id], START, END, settings=settings)

    assert first.ranges == []
    assert later.ranges == [TimeRange(DAY + timedelta(hours=9), DAY + timedelta(hours=10))]
    assert len(fakes.google.faults.calls) == 2


async def test_busy_blocks_reaching_over_either_end_of_the_range_are_kept(
    session: AsyncSession, settings: Settings, fakes: Fakes
) -> None:
    world = await make_world(session)
    member = world.a.colleague
    await connect(session, settings, fakes, member, CalendarProvider.MICROSOFT)
    reaching_in = TimeRange(START - timedelta(hours=1), START + timedelta(minutes=30))
    reaching_out = TimeRange(END - timedelta(minutes=30), END + timedelta(hours=1))
    for block in (reaching_in, reaching_out):
        fakes.microsoft.add_busy(member.email, block.start, block.end)
    fakes.microsoft.add_busy(member.email, END, END + timedelta(hours=1))  # touches: not busy

    result = await calendar_busy(session, [member.id], START, END, settings=settings)

    assert result.unchecked == []
    assert result.ranges == [reaching_in, reaching_out]
