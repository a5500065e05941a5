"""Both provider clients against their fakes, through the real client libraries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.calendars.base import (
    AuthExpired,
    EventSpec,
    Gone,
    Retryable,
    Revoked,
    event_key,
    interview_uid,
)
from app.config import Settings
from app.models import CalendarProvider
from app.scheduling.windows import TimeRange
from tests.calendars.conftest import Fakes, Harness

START = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def spec(*, start: datetime = START, conference: bool = False, key: str | None = None) -> EventSpec:
    interview_id = uuid.uuid4()
    return EventSpec(
        key=key or event_key(interview_id, uuid.uuid4()),
        ical_uid=interview_uid(interview_id),
        sequence=0,
        title="Interview: Ada Lovelace, round 1",
        description="Round 1 for Analytical Engine.\nAttendees: ada@example.com",
        start=start,
        end=start + timedelta(minutes=30),
        time_zone="America/New_York",
        create_conference=conference,
    )


async def test_create_writes_one_event_with_the_times(harness: Harness) -> None:
    written = await harness.client().create_event(spec())

    [event] = harness.events()
    assert event["id"] == written.provider_event_id
    assert harness.event_times(event) == (START, START + timedelta(minutes=30))
    assert written.conference_url is None


async def test_create_with_conference_returns_the_join_link(harness: Harness) -> None:
    written = await harness.client().create_event(spec(conference=True))

    expected = "meet.google.com" if harness.provider is CalendarProvider.GOOGLE else "teams"
    assert written.conference_url is not None and expected in written.conference_url


async def test_create_retried_after_a_lost_answer_makes_exactly_one_event(
    harness: Harness,
) -> None:
    client, event = harness.client(), spec(conference=True)
    harness.fake.faults.fail_next(503, after=True)  # created, but the answer is lost
    with pytest.raises(Retryable):
        await client.create_event(event)

    written = await client.create_event(event)

    [stored] = harness.events()
    assert stored["id"] == written.provider_event_id
    assert written.conference_url is not None


async def test_update_moves_the_event(harness: Harness) -> None:
    client = harness.client()
    first = spec()
    written = await client.create_event(first)
    later = START + timedelta(days=1, hours=2)
    moved = EventSpec(**{**first.__dict__, "start": later, "end": later + timedelta(minutes=45)})

    await client.update_event(written.provider_event_id, moved)

    [event] = harness.events()
    assert harness.event_times(event) == (later, later + timedelta(minutes=45))


async def test_delete_removes_the_event_and_a_second_delete_is_gone(harness: Harness) -> None:
    client = harness.client()
    written = await client.create_event(spec())

    await client.delete_event(written.provider_event_id)

    assert harness.events() == []
    with pytest.raises(Gone):
        await client.delete_event(written.provider_event_id)


async def test_deleting_an_unknown_event_is_gone(harness: Harness) -> None:
    with pytest.raises(Gone):
        await harness.client().delete_event("0123456789abcdef0123456789abcdef")


async def test_update_of_a_deleted_event_is_gone(harness: Harness) -> None:
    client = harness.client()
    written = await client.create_event(spec())
    await client.delete_event(written.provider_event_id)

    with pytest.raises(Gone):
        await client.update_event(written.provider_event_id, spec())


async def test_busy_answers_the_blocks_overlapping_the_range(harness: Harness) -> None:
    harness.fake.add_busy(harness.email, START, START + timedelta(hours=1))
    harness.fake.add_busy(harness.email, START + timedelta(hours=3), START + timedelta(hours=4))
    harness.fake.add_busy(
        harness.email, START + timedelta(days=2), START + timedelta(days=2, hours=1)
    )

    busy = await harness.client().busy(START - timedelta(hours=1), START + timedelta(hours=5))

    assert busy == [
        TimeRange(START, START + timedelta(hours=1)),
        TimeRange(START + timedelta(hours=3), START + timedelta(hours=4)),
    ]


async def test_rate_limit_is_retryable_after_the_providers_delay(harness: Harness) -> None:
    harness.fake.faults.fail_next(429, retry_after=7)

    with pytest.raises(Retryable) as raised:
        await harness.client().create_event(spec())

    assert raised.value.retry_after == 7
    assert harness.events() == []


async def test_server_error_is_retryable(harness: Harness) -> None:
    harness.fake.faults.fail_next(500)

    with pytest.raises(Retryable) as raised:
        await harness.client().busy(START, START + timedelta(hours=1))

    assert raised.value.retry_after is None


async def test_expired_access_token_is_refreshed_and_the_new_one_reported(
    harness: Harness,
) -> None:
    client = harness.client(expired=True)
    old = client.tokens

    await client.create_event(spec())

    assert client.tokens_changed
    assert client.tokens.access_token != old.access_token
    assert client.tokens.refresh_token  # kept (Google) or rotated (Microsoft)
    assert client.tokens.expires_at is not None and client.tokens.expires_at > datetime.now(UTC)
    assert len(harness.events()) == 1


async def test_a_401_refreshes_the_token_once_and_succeeds(harness: Harness) -> None:
    client = harness.client()
    harness.fake.oauth.expire_access_tokens()  # the provider no longer takes it

    await client.busy(START, START + timedelta(hours=1))

    assert client.tokens_changed


async def test_revoked_refresh_token_is_revoked(harness: Harness) -> None:
    client = harness.client(expired=True)
    harness.fake.oauth.revoke(harness.email)

    with pytest.raises(Revoked):
        await client.create_event(spec())

    assert harness.events() == []


async def test_refused_token_after_refresh_is_auth_expired(harness: Harness) -> None:
    client = harness.client()
    harness.fake.faults.fail_next(401, times=2)

    with pytest.raises(AuthExpired):
        await client.busy(START, START + timedelta(hours=1))


async def test_account_names_the_address_and_default_calendar(harness: Harness) -> None:
    account = await harness.client().account()

    assert account.email == harness.email
    assert account.calendar_id


async def test_a_slow_answer_is_retryable(harness: Harness) -> None:
    slow = harness.settings.model_copy(update={"calendar_timeout_seconds": 0.2})
    impatient = Harness(harness.provider, slow, harness.fakes, harness.email)
    harness.fake.faults.slow_next(0.5)

    try:
        with pytest.raises(Retryable):
            await impatient.client().busy(START, START + timedelta(hours=1))
    finally:
        for client in impatient.opened:
            client.close()


async def test_google_403_rate_limit_is_retryable(
    provider_settings: Settings, fakes: Fakes
) -> None:
    harness = Harness(CalendarProvider.GOOGLE, provider_settings, fakes, "g@example.com")
    fakes.google.faults.fail_next(403, retry_after=3)  # userRateLimitExceeded

    try:
        with pytest.raises(Retryable) as raised:
            await harness.client().create_event(spec())
    finally:
        for client in harness.opened:
            client.close()

    assert raised.value.retry_after == 3
