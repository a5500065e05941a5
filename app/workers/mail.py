"""Delivering one mail outbox row: read the facts, render, hand to the transport.

A mail that carries an iCalendar invite (a booking's REQUEST, a cancellation's CANCEL) is
how a participant without a connected calendar gets the interview into their calendar: once
it is handed over, that participant's sync state is SYNCED, and FAILED with the reason when
the row fails for good, as a calendar write would leave it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.calendars.conference import settle_conference
from app.db import begin_write
from app.live.changes import note_interview_changed
from app.models import Interview, InterviewStatus, Participant, SyncState
from app.notifications.facts import (
    InterviewFacts,
    MailIntent,
    load_interview_facts,
    load_reader,
    superseded,
)
from app.notifications.kinds import MessageKind
from app.notifications.mail import render_mail
from app.outbox.errors import Deferred, PermanentDeliveryError
from app.outbox.processing import ClaimedMessage, Completion
from app.outbox.topics import MAIL_TOPIC, handles, records_failure
from app.participants import state as sync_state
from app.workers.runtime import WorkerRuntime

logger = logging.getLogger(__name__)


@handles(MAIL_TOPIC)
async def deliver_mail(
    message: ClaimedMessage, *, runtime: WorkerRuntime
) -> str | Completion | None:
    intent = MailIntent.from_payload(message.id, message.created_at, message.payload)
    # A short read transaction, ended before the network call: on SQLite every
    # transaction holds the write lock, and nothing should wait on an SMTP server.
    async with runtime.sessions() as session:
        facts = (
            await load_interview_facts(session, intent.interview_id)
            if intent.interview_id is not None
            else None
        )
        invite_facts = (
            await load_interview_facts(session, intent.invite_interview_id)
            if intent.invite_interview_id is not None
            else None
        )
        # The reader as they are now: a candidate's zone chosen at booking applies to every
        # mail rendered since, including those queued before.
        reader = await load_reader(session, intent.user_id)
        await session.commit()
    skip = superseded(intent, facts)
    if skip is not None:
        logger.info("outbox %s not sent: %s", message.id, skip)
        return f"not sent: {skip}"
    if facts is not None and await _wait_for_conference(intent, facts, runtime):
        raise Deferred(
            "waiting for the requester's calendar to create the conference link",
            retry_after=runtime.settings.conference_wait_poll_seconds,
        )
    try:
        mail = render_mail(
            intent,
            facts,
            runtime.settings,
            recipient_name=reader.name,
            reader_zone=reader.time_zone,
            invite_facts=invite_facts,
        )
        await runtime.mail.send(mail)
    except Exception as exc:
        # The same rule as `process_outbox_message`: a permanent refusal, or any error on
        # the last attempt, fails the row; the participant's state says so too.
        final = message.attempts >= runtime.options.max_attempts
        if isinstance(exc, PermanentDeliveryError) or final:
            try:
                await record_invite(runtime.sessions, intent, error=plain_reason(exc))
            except Exception:
                logger.warning("outbox %s: sync state not recorded", message.id, exc_info=True)
        raise
    # The sync state is written with the row's DONE mark, in one short transaction right
    # after the server accepted: the window for a duplicate after a crash is that small.
    return Completion(write=partial(write_invite_state, intent=intent, error=None))


SHOWS_CONFERENCE_LINK = frozenset({MessageKind.INTERVIEW_BOOKED, MessageKind.INTERVIEW_MOVED})


async def _wait_for_conference(
    intent: MailIntent, facts: InterviewFacts, runtime: WorkerRuntime
) -> bool:
    """Whether this mail shows the conference link while the provider is still making it.

    Past the limit the fallback link becomes final (the sync then keeps it), so no mail
    waits for ever and everyone still gets one link.
    """
    pending = facts.conference_pending_since
    if pending is None or facts.status is not InterviewStatus.BOOKED:
        return False
    if intent.invite is None and intent.kind not in SHOWS_CONFERENCE_LINK:
        return False
    limit = timedelta(seconds=runtime.settings.conference_wait_limit_seconds)
    if runtime.clock() - pending < limit:
        return True
    async with runtime.sessions() as session:
        await begin_write(session)
        interview = await session.get(Interview, facts.interview_id)
        if interview is not None:
            await settle_conference(session, interview)
        await session.commit()
    logger.warning("interview %s: gave up waiting for the conference link", facts.interview_id)
    return False


def plain_reason(exc: Exception) -> str:
    """What the team reads next to a participant; the details stay on the outbox row."""
    if isinstance(exc, PermanentDeliveryError):
        return "the mail server refused the invitation for this address"
    return "the mail server could not be reached; gave up after several attempts"


async def record_invite(
    sessions: async_sessionmaker[AsyncSession], intent: MailIntent, *, error: str | None
) -> int:
    """Set the sync state of the participant an invite mail was for; returns rows changed.

    Idempotent (a repeated delivery writes the same state). Only an invite of the
    interview's current SEQUENCE counts: a booking's invite that went out just before a
    cancellation cannot overwrite what the cancellation's own mail recorded.
    """
    if intent.invite is None or intent.invite_about is None:
        return 0
    async with sessions() as session:
        await begin_write(session)
        changed = await write_invite_state(session, intent=intent, error=error)
        await session.commit()
    return changed


@records_failure(MAIL_TOPIC)
async def record_given_up(session: AsyncSession, message: ClaimedMessage, reason: str) -> int:
    """The row failed without the handler recording it (every attempt died with its worker):
    the invite's participant, if still PENDING, is FAILED (see `outbox.FailureRecorder`)."""
    intent = MailIntent.from_payload(message.id, message.created_at, message.payload)
    return await write_invite_state(
        session,
        intent=intent,
        error="the mail could not be sent; gave up after several attempts",
        pending_only=True,
    )


async def write_invite_state(
    session: AsyncSession, *, intent: MailIntent, error: str | None, pending_only: bool = False
) -> int:
    """The UPDATE behind `record_invite`, inside the caller's transaction."""
    if intent.invite is None or intent.invite_about is None:
        return 0
    current = select(Interview.id).where(Interview.id == intent.invite_about)
    if intent.sequence is not None:
        current = current.where(Interview.ical_sequence == intent.sequence)
    state, reason = sync_state.invite_outcome(error)
    which = [
        Participant.interview_id.in_(current.scalar_subquery()),
        func.lower(Participant.email) == intent.to.lower(),
    ]
    if pending_only:
        which.append(Participant.sync_state == SyncState.PENDING)
    if error is None:
        # A member whose calendar broke keeps DISCONNECTED: the mail is the fallback, and
        # the state says why it came by mail (app.calendars.fallback).
        which.append(Participant.sync_state != SyncState.DISCONNECTED)
    result = await session.execute(
        update(Participant)
        .where(*which)
        .values(sync_state=state, sync_error=reason)
        .execution_options(synchronize_session=False)
    )
    changed: int = getattr(result, "rowcount", 0) or 0
    if changed and intent.interview_id is not None:
        note_interview_changed(session, intent.interview_id)  # subscriptions hear of it
    return changed
