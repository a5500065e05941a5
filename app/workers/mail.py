"""Delivering one mail outbox row: read the facts, render, hand to the transport."""

from __future__ import annotations

import logging

from app.notifications.facts import (
    MailIntent,
    load_interview_facts,
    recipient_name,
    superseded,
)
from app.notifications.mail import render_mail
from app.workers.outbox import ClaimedMessage
from app.workers.runtime import WorkerRuntime

logger = logging.getLogger(__name__)


async def deliver_mail(message: ClaimedMessage, *, runtime: WorkerRuntime) -> str | None:
    intent = MailIntent.from_payload(message.id, message.created_at, message.payload)
    # A short read transaction, ended before the network call: on SQLite every
    # transaction holds the write lock, and nothing should wait on an SMTP server.
    async with runtime.sessions() as session:
        facts = (
            await load_interview_facts(session, intent.interview_id)
            if intent.interview_id is not None
            else None
        )
        name = await recipient_name(session, intent.user_id)
        await session.commit()
    skip = superseded(intent, facts)
    if skip is not None:
        logger.info("outbox %s not sent: %s", message.id, skip)
        return f"not sent: {skip}"
    mail = render_mail(intent, facts, runtime.settings, recipient_name=name)
    await runtime.mail.send(mail)
    return None
