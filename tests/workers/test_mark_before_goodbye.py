"""A mail is marked DONE as soon as the SMTP server accepted it, not after the goodbye.

The window for a duplicate is the time between the server's 250 and the DONE mark (a
worker killed within it sends the row again): the QUIT round trip runs beside the mark, so
a slow goodbye does not widen that window. The server here holds its QUIT answer until the
test has seen the row marked.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.db import begin_write, create_session_factory
from app.models import OutboxMessage, OutboxStatus, utcnow
from app.notifications.service import MAIL_TOPIC
from app.outbox.processing import Outcome, process_outbox_message
from app.outbox.topics import handlers as topic_handlers
from app.workers.options import WorkerOptions
from app.workers.runtime import WorkerRuntime
from tests.conftest import Clock, make_settings
from tests.factories import make_interview, make_world
from tests.workers.conftest import eventually
from tests.workers.smtp import SmtpServer


async def test_the_row_is_done_before_the_server_answers_quit(
    session: AsyncSession, engine: AsyncEngine, database_url: str, clock: Clock
) -> None:
    with SmtpServer() as smtp:
        settings: Settings = make_settings(
            database_url, smtp_url=smtp.url, public_url="https://roundtable.example.com"
        )
        await begin_write(session)
        world = await make_world(session)
        await session.commit()
        await make_interview(session, settings, world.a, clock.now)
        row = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.topic == MAIL_TOPIC).limit(1)
        )
        assert row is not None
        await session.commit()
        runtime = WorkerRuntime(settings, WorkerOptions())
        gate = threading.Event()
        smtp.handler.quit_gate = gate
        try:
            result = await process_outbox_message(
                sessions=runtime.sessions,
                handlers=topic_handlers(runtime),
                message_id=row.id,
                options=runtime.options,
                clock=lambda: utcnow() + timedelta(seconds=1),
            )
            async with create_session_factory(engine)() as fresh:
                status = await fresh.scalar(
                    select(OutboxMessage.status).where(OutboxMessage.id == row.id)
                )
                await fresh.commit()
            goodbyes_before_the_mark = smtp.handler.quits_answered
        finally:
            gate.set()
            await runtime.close()

        async def said_goodbye() -> bool:
            return smtp.handler.quits_answered == 1

        await eventually(said_goodbye, what="the QUIT answered after the release")

    assert result.outcome is Outcome.DONE and status is OutboxStatus.DONE
    assert goodbyes_before_the_mark == 0
    assert len(smtp.handler.received) == 1
