"""The embedded default: an in-process worker on the in-memory broker writes .eml files."""

from __future__ import annotations

import asyncio
from email import policy
from email.parser import BytesParser
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db import begin_write
from app.workers.background import Background
from app.workers.options import WorkerOptions
from tests.conftest import Clock, make_settings
from tests.factories import make_interview, make_world
from tests.workers.conftest import NEVER_HOURS, all_done, eventually, outbox_rows


async def test_serve_default_delivers_outbox_rows_as_eml_files(
    session: AsyncSession, engine: AsyncEngine, database_url: str, clock: Clock, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url, mail_dir=tmp_path / "mail", reminder_after_hours=NEVER_HOURS
    )
    assert not settings.broker_url and not settings.smtp_url
    background = Background(
        settings,
        in_process_worker=True,
        options=WorkerOptions(sweep_interval_seconds=0.2, embedded_threads=2),
    )
    await asyncio.to_thread(background.start)
    try:
        await begin_write(session)
        world = await make_world(session)
        await begin_write(session)
        await make_interview(session, settings, world.a, clock.now)
        background.wake()
        await eventually(all_done(engine), what="the rows written as .eml files")
    finally:
        await asyncio.to_thread(background.stop)

    rows = await outbox_rows(engine)
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == len(rows)
    recipients = {
        str(BytesParser(policy=policy.default).parsebytes(f.read_bytes())["To"]) for f in files
    }
    assert recipients == {r.payload["to"] for r in rows}
