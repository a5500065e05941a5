"""The reconcile sweep: calendars edited by hand are repaired in one sweep, in both fakes.

The requesting member writes to Google, the colleague to Microsoft. After the sync, one
interview's copy is deleted by hand, another's moved, a third's duplicated, and a fourth
interview is cancelled while its sync cannot run: one sweep (periodic, or asked for by an
admin) puts every calendar back to exactly the booked interviews at the booked times, with
the providers' incremental sync, or a full listing when the provider has dropped the
position (Google 410 fullSyncRequired, Graph 410 syncStateNotFound).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.access import load_viewer
from app.calendars.reconcile import REVOKED_REASON
from app.calendars.reconcile_schedule import request_due_reconciles
from app.config import Settings
from app.db import begin_write, create_session_factory
from app.models import (
    CalendarConnection,
    CalendarEvent,
    CalendarProvider,
    ConnectionState,
    Interview,
    Notification,
    OutboxMessage,
    User,
)
from app.outbox.topics import MAIL_TOPIC, SYNC_TOPIC
from app.scheduling import requests
from tests.calendars.conftest import Fakes
from tests.calendars.drain import Drainer, real_time
from tests.calendars.test_disconnect import invite_methods
from tests.calendars.test_freebusy import connect
from tests.conftest import Clock, GraphQLClient
from tests.factories import Side, book_first_slot, local_windows, make_interview, make_world
from tests.fakes import google, microsoft

GOOGLE, MICROSOFT = CalendarProvider.GOOGLE, CalendarProvider.MICROSOFT
RECONCILE = """mutation($id: ID) { reconcileCalendars(connectionId: $id) {
  queued errors { code } } }"""
PARTICIPANTS = """query($id: ID!) { interview(id: $id) {
  participants { email syncState syncError syncCheckedAt } } }"""
HOUR = timedelta(hours=1)


def live(fakes: Fakes, provider: CalendarProvider, email: str) -> list[tuple[datetime, datetime]]:
    """The times of every live event in the calendar, repeats kept, sorted."""
    if provider is GOOGLE:
        return sorted(
            (google.parse_time(e["start"]), google.parse_time(e["end"]))
            for e in fakes.google.events(email)
        )
    return sorted(
        (microsoft.parse_dtz(e["start"]), microsoft.parse_dtz(e["end"]))
        for e in fakes.microsoft.events(email)
    )


async def book_on_day(
    session: AsyncSession, settings: Settings, side: Side, clock: Clock, day: int
) -> Interview:
    windows = local_windows(
        clock.now + timedelta(days=day), "UTC", [("09:00", "10:00"), ("11:00", "12:00")]
    )
    interview = await make_interview(
        session,
        settings,
        side,
        clock.now,
        windows=windows,
        participants=[side.member, side.colleague],
        time_zone="UTC",
    )
    return await book_first_slot(session, settings, side, interview, clock.now)


async def provider_ids(engine: AsyncEngine, interview: Interview) -> dict[uuid.UUID, str]:
    """Participant id -> the provider's event id, as recorded."""
    async with create_session_factory(engine)() as fresh:
        rows = list(
            await fresh.scalars(
                select(CalendarEvent).where(CalendarEvent.interview_id == interview.id)
            )
        )
        await fresh.commit()
    return {r.participant_id: str(r.provider_event_id) for r in rows}


async def participant_ids(engine: AsyncEngine, interview: Interview) -> dict[str, uuid.UUID]:
    async with create_session_factory(engine)() as fresh:
        rows = await fresh.execute(
            select(CalendarEvent.participant_id, User.email)
            .join(CalendarConnection, CalendarConnection.id == CalendarEvent.connection_id)
            .join(User, User.id == CalendarConnection.user_id)
            .where(CalendarEvent.interview_id == interview.id)
        )
        found = {email: pid for pid, email in rows}
        await fresh.commit()
    return found


@pytest.mark.parametrize("tokens", ["incremental", "expired"])
async def test_one_sweep_repairs_events_deleted_moved_duplicated_and_cancelled_by_hand(
    tokens: str,
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
    member, colleague = side.member, side.colleague
    await connect(session, settings, fakes, member, GOOGLE)
    await connect(session, settings, fakes, colleague, MICROSOFT)
    await session.commit()
    drainer = Drainer.start(settings)
    try:
        booked = [await book_on_day(session, settings, side, clock, day) for day in (1, 2, 3, 4)]
        await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)
        expected = sorted((i.booked_start, i.booked_end) for i in booked)
        assert live(fakes, GOOGLE, member.email) == expected
        assert live(fakes, MICROSOFT, colleague.email) == expected

        # The first periodic sweep lists each calendar in full: nothing to repair.
        assert (
            await request_due_reconciles(
                sessions=drainer.runtime.sessions, period=HOUR, now=drainer.clock()
            )
            == 2
        )
        assert (
            await request_due_reconciles(
                sessions=drainer.runtime.sessions, period=HOUR, now=drainer.clock()
            )
            == 0
        ), "claimed once per period"
        await drainer.drain(SYNC_TOPIC)
        notes = await sweep_notes(engine)
        assert len(notes) == 2 and all("(full): 4 checked, 0 written again" in n for n in notes)

        # By hand, in both calendars.
        deleted, moved, copied, cancelled = booked
        pids = await participant_ids(engine, deleted)
        for provider, email in ((GOOGLE, member.email), (MICROSOFT, colleague.email)):
            fake: Any = fakes.google if provider is GOOGLE else fakes.microsoft
            ids = {
                i.id: (await provider_ids(engine, i))[(await participant_ids(engine, i))[email]]
                for i in booked
            }
            fake.delete_by_hand(email, ids[deleted.id])
            fake.move_by_hand(email, ids[moved.id], timedelta(hours=2))
            fake.duplicate_by_hand(email, ids[copied.id])
        assert pids
        # Cancelled while the sync cannot run: its rows stay queued (the sweep does not wait).
        await begin_write(session)
        await requests.cancel_interview(
            session=session,
            viewer=await load_viewer(session, member),
            interview_id=cancelled.id,
            reason="filled",
            now=clock.now,
        )
        await session.commit()
        await drainer.drain(MAIL_TOPIC)
        if tokens == "expired":
            fakes.google.expire_sync_tokens()
            fakes.microsoft.expire_delta_tokens()

        # One sweep, asked for by an admin.
        before, calls_before = drift_counts(), provider_calls()
        asked = await gql(RECONCILE, {"id": None}, token=world.token(world.admin))
        assert asked["data"]["reconcileCalendars"] == {"queued": 2, "errors": []}
        for row in await drainer.pending(SYNC_TOPIC):
            if "reconcile_connection_id" in row.payload:
                await drainer.deliver(row.id)
    finally:
        await drainer.close()

    alive = sorted((i.booked_start, i.booked_end) for i in (deleted, moved, copied))
    assert live(fakes, GOOGLE, member.email) == alive
    assert live(fakes, MICROSOFT, colleague.email) == alive
    notes = (await sweep_notes(engine))[2:]
    kind = "full" if tokens == "expired" else "incremental"
    assert len(notes) == 2 and all(
        f"({kind}): 3 checked, 1 written again, 1 moved back, 2 removed" in n for n in notes
    ), notes
    if tokens == "incremental":
        assert fakes.google.list_calls[-1].get("syncToken")
    # The same, counted for Prometheus (both calendars): found and repaired, by kind.
    after = drift_counts()
    counted = {key: after[key] - before[key] for key in after}
    assert counted == {
        ("found", "deleted"): 2, ("found", "moved"): 2, ("found", "extra"): 4,
        ("repaired", "deleted"): 2, ("repaired", "moved"): 2, ("repaired", "extra"): 4,
    }
    # Each calendar's listing and repairs are provider calls, counted and timed.
    calls = provider_calls()
    for key in calls:
        assert calls[key] - calls_before[key] >= 4, key  # a listing and three repairs at least

    # Each participant's state and last check, in the API.
    shown = await gql(PARTICIPANTS, {"id": str(deleted.id)}, token=world.token(member))
    rows = {p["email"]: p for p in shown["data"]["interview"]["participants"]}
    for email in (member.email, colleague.email):
        assert rows[email]["syncState"] == "SYNCED" and rows[email]["syncCheckedAt"]


def drift_counts() -> dict[tuple[str, str], float]:
    return {
        (what, kind): REGISTRY.get_sample_value(
            f"roundtable_reconcile_drift_{what}_total", {"kind": kind}
        )
        or 0.0
        for what in ("found", "repaired")
        for kind in ("deleted", "moved", "extra")
    }


def provider_calls() -> dict[tuple[str, str], float]:
    return {
        (name, provider): REGISTRY.get_sample_value(name, labels) or 0.0
        for provider in ("google", "microsoft")
        for name, labels in (
            ("roundtable_provider_calls_total", {"provider": provider, "status": "ok"}),
            ("roundtable_provider_call_seconds_count", {"provider": provider}),
        )
    }


async def sweep_notes(engine: AsyncEngine) -> list[str]:
    """The notes of the finished reconcile rows, oldest first."""
    async with create_session_factory(engine)() as fresh:
        rows = list(
            await fresh.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.topic == SYNC_TOPIC)
                .order_by(OutboxMessage.created_at)
            )
        )
        await fresh.commit()
    return [
        str(r.last_error) for r in rows if "reconcile_connection_id" in r.payload and r.processed_at
    ]


@pytest.mark.parametrize("provider", [GOOGLE, MICROSOFT], ids=str.lower)
async def test_a_revoked_token_is_reported_in_one_sweep_and_the_cancel_is_mailed(
    provider: CalendarProvider,
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
    await connect(session, settings, fakes, side.colleague, provider)
    await session.commit()
    drainer = Drainer.start(settings)
    try:
        interview = await book_on_day(session, settings, side, clock, 1)
        await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)
        fake: Any = fakes.google if provider is GOOGLE else fakes.microsoft
        fake.oauth.revoke(side.colleague.email)
        fake.oauth.expire_access_tokens()

        await request_due_reconciles(
            sessions=drainer.runtime.sessions, period=HOUR, now=drainer.clock()
        )
        await drainer.drain(SYNC_TOPIC)

        async with create_session_factory(engine)() as fresh:
            connection = await fresh.scalar(select(CalendarConnection))
            told = list(
                await fresh.scalars(
                    select(Notification.kind).where(Notification.user_id == side.colleague.id)
                )
            )
            await fresh.commit()
        assert connection is not None and connection.state is ConnectionState.BROKEN
        assert "CALENDAR_DISCONNECTED" in told
        shown = await gql(PARTICIPANTS, {"id": str(interview.id)}, token=world.token(side.member))
        [mine] = [
            p
            for p in shown["data"]["interview"]["participants"]
            if p["email"] == side.colleague.email
        ]
        assert mine["syncState"] == "DISCONNECTED" and mine["syncError"] == REVOKED_REASON
        assert mine["syncCheckedAt"]

        # The calendar cannot be reached: the cancellation goes by mail.
        await begin_write(session)
        await requests.cancel_interview(
            session=session,
            viewer=await load_viewer(session, side.member),
            interview_id=interview.id,
            reason="filled",
            now=clock.now,
        )
        await session.commit()
        await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)
    finally:
        await drainer.close()
    # The invitation mailed instead was not sent yet: the cancellation superseded it.
    assert invite_methods(drainer.mail.sent, side.colleague.email) == ["CANCEL"]


async def test_only_admins_may_ask_for_a_reconcile(
    session: AsyncSession, gql: GraphQLClient
) -> None:
    world = await make_world(session)
    asked = await gql(RECONCILE, {"id": None}, token=world.token(world.a.member))
    assert asked["data"]["reconcileCalendars"] == {"queued": 0, "errors": [{"code": "FORBIDDEN"}]}
    missing = await gql(RECONCILE, {"id": str(uuid.uuid4())}, token=world.token(world.admin))
    assert missing["data"]["reconcileCalendars"]["errors"] == [{"code": "NOT_FOUND"}]


async def test_interviews_past_the_window_are_neither_listed_nor_written_again(
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    fakes: Fakes,
    clock: Clock,
) -> None:
    real_time(clock)
    world = await make_world(session)
    side = world.a
    await connect(session, settings, fakes, side.member, GOOGLE)
    await connect(session, settings, fakes, side.colleague, MICROSOFT)
    await session.commit()
    drainer = Drainer.start(settings)
    try:
        await book_on_day(session, settings, side, clock, 1)
        await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)
        drainer.clock.skipped += timedelta(days=10)  # the interview is long over
        await request_due_reconciles(
            sessions=drainer.runtime.sessions, period=HOUR, now=drainer.clock()
        )
        await drainer.drain(SYNC_TOPIC)
    finally:
        await drainer.close()
    notes = await sweep_notes(engine)
    assert len(notes) == 2 and all("(full): 0 checked, 0 written again" in n for n in notes)
    assert len(fakes.google.events(side.member.email)) == 1
    assert len(fakes.microsoft.events(side.colleague.email)) == 1
