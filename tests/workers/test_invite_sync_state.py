"""People who get the interview as a mailed iCalendar invite (invitees, members without a
connected calendar) are SYNCED once the invite is handed over, FAILED when it cannot be."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.access import load_viewer
from app.calendars.base import AccountInfo
from app.calendars.connections import save_connection
from app.calendars.tokens import TokenSet
from app.config import Settings
from app.db import begin_write, create_session_factory
from app.models import (
    CalendarProvider,
    Interview,
    OutboxMessage,
    OutboxStatus,
    Participant,
    SyncState,
    utcnow,
)
from app.notifications.facts import MailIntent
from app.notifications.kinds import InviteMethod
from app.outbox.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from app.outbox.processing import ClaimedMessage, Completion, Outcome, process_outbox_message
from app.outbox.topics import MAIL_TOPIC
from app.outbox.topics import handlers as topic_handlers
from app.scheduling import requests
from app.workers.background import Background
from app.workers.mail import deliver_mail, record_invite
from app.workers.options import WorkerOptions
from app.workers.runtime import WorkerRuntime
from tests.conftest import Clock
from tests.factories import World, book_first_slot, make_interview, make_world
from tests.workers.conftest import all_done, eventually, outbox_rows
from tests.workers.smtp import SmtpServer

GUEST = "guest@outside.example"


async def states(
    engine: AsyncEngine, interview_id: uuid.UUID
) -> dict[str, tuple[SyncState, str | None]]:
    """Each participant's (sync state, error) by email, read afresh."""
    async with create_session_factory(engine)() as session:
        rows = await session.scalars(
            select(Participant).where(Participant.interview_id == interview_id)
        )
        found = {p.email: (p.sync_state, p.sync_error) for p in rows}
        await session.commit()
        return found


async def book_with_guest(
    session: AsyncSession, settings: Settings, clock: Clock
) -> tuple[World, Interview]:
    await begin_write(session)
    world = await make_world(session)
    side = world.a
    await begin_write(session)
    interview = await make_interview(
        session,
        settings,
        side,
        clock.now,
        participants=[side.member, side.colleague],
        invite_emails=[GUEST],
    )
    await begin_write(session)
    await book_first_slot(session, settings, side, interview, clock.now)
    return world, interview


async def cancel(session: AsyncSession, world: World, interview: Interview, clock: Clock) -> None:
    await begin_write(session)
    await requests.cancel_interview(
        session=session,
        viewer=await load_viewer(session, world.a.member),
        interview_id=interview.id,
        reason="the role was filled",
        now=clock.now,
    )
    await session.commit()


async def test_invites_through_redis_and_smtp_sync_everyone_mailed_and_a_rejection_fails(
    session: AsyncSession,
    engine: AsyncEngine,
    worker_settings: Settings,
    clock: Clock,
    background: Background,
    smtp: SmtpServer,
) -> None:
    world, interview = await book_with_guest(session, worker_settings, clock)
    side = world.a
    mailed = {side.member.email, side.colleague.email, GUEST}
    background.wake()
    await eventually(all_done(engine), what="the booking's mails delivered")
    assert await states(engine, interview.id) == {e: (SyncState.SYNCED, None) for e in mailed}

    smtp.handler.rejected_rcpt.add(GUEST)  # the guest's mailbox is gone by the cancellation
    await cancel(session, world, interview, clock)
    background.wake()

    async def settled() -> bool:
        rows = await outbox_rows(engine)
        return all(r.status is not OutboxStatus.PENDING for r in rows)

    await eventually(settled, what="the cancellation's mails settled")
    [failed] = [r for r in await outbox_rows(engine) if r.status is OutboxStatus.FAILED]
    assert (failed.payload["to"], failed.payload["invite"]) == (GUEST, InviteMethod.CANCEL.value)
    after = await states(engine, interview.id)
    assert after[side.member.email] == after[side.colleague.email] == (SyncState.SYNCED, None)
    state, error = after[GUEST]
    assert state is SyncState.FAILED
    # Plain words for the team; the SMTP reply stays on the outbox row for admins.
    assert (
        error
        == "the calendar invitation could not be mailed: the mail server refused the invitation for this address"
    ), error
    assert "550" in (failed.last_error or "")


@dataclass
class ScriptedTransport:
    """Accepts every mail except those to addresses told to fail."""

    refuse: dict[str, DeliveryError] = field(default_factory=dict)
    sent: list[EmailMessage] = field(default_factory=list)

    async def send(self, message: EmailMessage) -> None:
        address = parseaddr(str(message["To"]))[1]
        if address in self.refuse:
            raise self.refuse[address]
        self.sent.append(message)


async def deliver_all(runtime: WorkerRuntime, now: datetime) -> dict[uuid.UUID, Outcome]:
    """One pass over the due mail rows, as the mail actor would run each."""
    async with runtime.sessions() as session:
        ids = list(
            await session.scalars(
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.topic == MAIL_TOPIC, OutboxMessage.status == OutboxStatus.PENDING
                )
                .order_by(OutboxMessage.created_at)
            )
        )
        await session.commit()
    handlers = {MAIL_TOPIC: topic_handlers(runtime)[MAIL_TOPIC]}
    outcomes = {}
    for message_id in ids:
        result = await process_outbox_message(
            sessions=runtime.sessions,
            handlers=handlers,
            message_id=message_id,
            options=runtime.options,
            clock=lambda: now,
        )
        outcomes[message_id] = result.outcome
    return outcomes


async def test_a_connected_member_is_left_to_the_calendar_and_retries_end_in_failed(
    session: AsyncSession, engine: AsyncEngine, settings: Settings, clock: Clock
) -> None:
    await begin_write(session)
    world = await make_world(session)
    side = world.a
    # The colleague's calendar is connected: the event goes there, no invite is mailed.
    await save_connection(
        session=session,
        settings=settings,
        user_id=side.colleague.id,
        provider=CalendarProvider.GOOGLE,
        account=AccountInfo(email=side.colleague.email, calendar_id=side.colleague.email),
        tokens=TokenSet("access", "refresh", utcnow() + timedelta(hours=1)),
        now=utcnow(),
    )
    await session.commit()
    await begin_write(session)
    interview = await make_interview(
        session,
        settings,
        side,
        clock.now,
        participants=[side.member, side.colleague],
        invite_emails=[GUEST],
    )
    await begin_write(session)
    await book_first_slot(session, settings, side, interview, clock.now)

    transport = ScriptedTransport({GUEST: TransientDeliveryError("SMTP 451 4.3.0 try later")})
    runtime = WorkerRuntime(
        settings, WorkerOptions(max_attempts=2, min_backoff_seconds=60), transport=transport
    )
    try:
        first = await deliver_all(runtime, utcnow())
        assert Outcome.RETRY in first.values()
        during = await states(engine, interview.id)
        assert during == {
            side.member.email: (SyncState.SYNCED, None),
            side.colleague.email: (SyncState.PENDING, None),  # the calendar sync's to set
            GUEST: (SyncState.PENDING, None),  # to be retried: not failed yet
        }
        # The retry falls due after the backoff, and is the last attempt.
        second = await deliver_all(runtime, utcnow() + timedelta(hours=1))
        assert set(second.values()) == {Outcome.FAILED}
        failed = [r for r in await outbox_rows(engine) if r.status is OutboxStatus.FAILED]
        assert {r.payload["to"] for r in failed} == {GUEST}
        assert {r.payload["invite"] for r in failed} == {None, InviteMethod.REQUEST.value}
    finally:
        await runtime.close()
    after = await states(engine, interview.id)
    assert after[side.member.email] == (SyncState.SYNCED, None)
    assert after[side.colleague.email] == (SyncState.PENDING, None)
    state, error = after[GUEST]
    assert state is SyncState.FAILED
    assert error == (
        "the calendar invitation could not be mailed: "
        "the mail server could not be reached; gave up after several attempts"
    )
    invited = {parseaddr(str(m["To"]))[1] for m in transport.sent if _has_invite(m)}
    assert side.colleague.email not in invited and side.member.email in invited


def _has_invite(message: EmailMessage) -> bool:
    return any(p.get_content_type() == "text/calendar" for p in message.walk())


async def test_repeated_deliveries_agree_and_a_stale_invite_changes_nothing(
    session: AsyncSession, engine: AsyncEngine, settings: Settings, clock: Clock
) -> None:
    world, interview = await book_with_guest(session, settings, clock)
    await cancel(session, world, interview, clock)
    rows = [
        r
        for r in await outbox_rows(engine)
        if r.topic == MAIL_TOPIC and r.payload["to"] == GUEST and r.payload["invite"]
    ]
    [request] = [r for r in rows if r.payload["invite"] == InviteMethod.REQUEST.value]
    [cancellation] = [r for r in rows if r.payload["invite"] == InviteMethod.CANCEL.value]
    transport = ScriptedTransport({GUEST: PermanentDeliveryError("SMTP 550 5.1.1 no such mailbox")})
    runtime = WorkerRuntime(settings, WorkerOptions(), transport=transport)

    def claimed(row: OutboxMessage, attempts: int = 1) -> ClaimedMessage:
        return ClaimedMessage(row.id, row.topic, dict(row.payload), row.created_at, attempts)

    async def deliver(row: OutboxMessage) -> str | None:
        """The handler, then its completion written as the outbox writes it with DONE."""
        outcome = await deliver_mail(claimed(row), runtime=runtime)
        if not isinstance(outcome, Completion):
            return outcome
        if outcome.write is not None:
            async with runtime.sessions() as db:
                await begin_write(db)
                await outcome.write(db)
                await db.commit()
        return outcome.note

    try:
        # The booking's invite, still queued when the interview was cancelled, is not sent
        # and leaves the guest's state to the cancellation.
        note = await deliver(request)
        assert note is not None and note.startswith("not sent")
        assert (await states(engine, interview.id))[GUEST] == (SyncState.PENDING, None)

        # The cancellation is refused for good; delivered twice (at least once), same state.
        for _ in range(2):
            try:
                await deliver(cancellation)
            except PermanentDeliveryError:
                pass
            else:
                raise AssertionError("the guest's mailbox refuses mail")
            state, error = (await states(engine, interview.id))[GUEST]
            assert state is SyncState.FAILED and error is not None and "refused" in error

        # The mailbox is back: the cancellation goes out and the guest is SYNCED, twice alike.
        transport.refuse.clear()
        for _ in range(2):
            assert await deliver(cancellation) is None
            assert (await states(engine, interview.id))[GUEST] == (SyncState.SYNCED, None)

        # A booking invite that had slipped out before the cancellation (older SEQUENCE)
        # cannot overwrite what the cancellation's mail recorded.
        stale = MailIntent.from_payload(request.id, request.created_at, request.payload)
        assert await record_invite(runtime.sessions, stale, error="SMTP 550 gone") == 0
        current = MailIntent.from_payload(
            cancellation.id, cancellation.created_at, cancellation.payload
        )
        assert await record_invite(runtime.sessions, current, error=None) == 1
    finally:
        await runtime.close()
    assert (await states(engine, interview.id))[GUEST] == (SyncState.SYNCED, None)
