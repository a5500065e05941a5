"""A worker process killed with SIGKILL mid-delivery: after a restart, nothing lost or doubled.

The kill is placed deterministically: the SMTP server accepts a few mails, then holds every
later DATA command unanswered. Once both worker threads are held, every mail accepted so far
has been marked DONE (a thread takes its next message only after finishing the last), and
the held ones were never acknowledged; the process group is then killed. The restarted
worker must deliver every other row exactly once, under the row's Message-ID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.db import begin_write
from tests.conftest import SECRET, Clock
from tests.factories import book_first_slot, make_interview, make_world
from tests.workers.conftest import NEVER_HOURS, all_done, eventually, mail_rows, outbox_rows
from tests.workers.smtp import Hold, SmtpServer

ACCEPTED_BEFORE_CRASH = 4
THREADS = 2
COMMAND = [sys.executable, "-m", "dramatiq", "app.workers.entry", "--processes", "1"]
COMMAND += ["--threads", str(THREADS)]


class WorkerProcess:
    """`dramatiq app.workers.entry`, as `roundtable worker` runs it, in its own process group."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                COMMAND,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the supervisor and its worker children, killed together
            )

    def kill(self, sig: signal.Signals) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            if sig is signal.SIGKILL:
                os.killpg(self.process.pid, sig)  # the supervisor and its worker processes
            else:
                self.process.send_signal(sig)  # the supervisor passes it on to its workers
        self.process.wait(timeout=60)
        self.process = None


@pytest.fixture
def worker_env(worker_settings: Settings, namespace: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUNDTABLE_")}
    env.update(
        ROUNDTABLE_DATABASE_URL=worker_settings.database_url,
        ROUNDTABLE_BROKER_URL=worker_settings.broker_url,
        ROUNDTABLE_SMTP_URL=worker_settings.smtp_url,
        ROUNDTABLE_SECRET_KEY=SECRET,
        ROUNDTABLE_PUBLIC_URL=worker_settings.public_url,
        ROUNDTABLE_REMINDER_AFTER_HOURS=str(NEVER_HOURS),
        ROUNDTABLE_WORKER_NAMESPACE=namespace,
        ROUNDTABLE_WORKER_SWEEP_INTERVAL_SECONDS="0.2",
        # Claims of the killed worker expire quickly; every due row is republished at once.
        ROUNDTABLE_WORKER_LEASE_SECONDS="3",
        ROUNDTABLE_WORKER_REPUBLISH_AFTER_SECONDS="0",
        ROUNDTABLE_WORKER_MIN_BACKOFF_SECONDS="0.1",
        dramatiq_restart_delay="100",
    )
    return env


@pytest.fixture
def workers(worker_env: dict[str, str], tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.kill(signal.SIGKILL)


async def test_worker_killed_mid_delivery_loses_and_duplicates_no_mail(
    session: AsyncSession,
    engine: AsyncEngine,
    worker_settings: Settings,
    worker_env: dict[str, str],
    workers: list[WorkerProcess],
    clock: Clock,
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    await begin_write(session)
    world = await make_world(session)
    for side in (world.a, world.b):
        await begin_write(session)
        interview = await make_interview(session, worker_settings, side, clock.now)
        await begin_write(session)
        await book_first_slot(session, worker_settings, side, interview, clock.now)
    rows = mail_rows(await outbox_rows(engine))
    assert len(rows) > ACCEPTED_BEFORE_CRASH + THREADS, "mails left to deliver after the crash"
    hold = Hold(accept_first=ACCEPTED_BEFORE_CRASH)
    smtp.handler.hold = hold

    first = WorkerProcess(worker_env, tmp_path / "worker.log")
    workers.append(first)
    first.start()

    async def both_threads_held() -> bool:
        return hold.waiting == THREADS

    await eventually(both_threads_held, what="both worker threads waiting on the SMTP server")
    assert len(smtp.handler.messages()) == ACCEPTED_BEFORE_CRASH
    first.kill(signal.SIGKILL)
    smtp.handler.hold = None
    hold.released.set()  # the held DATA commands are refused: those mails were not accepted

    second = WorkerProcess(worker_env, tmp_path / "worker.log")
    workers.append(second)
    second.start()
    await eventually(
        all_done(engine), what="every row delivered after the restart", deadline_seconds=60
    )
    second.kill(signal.SIGTERM)

    expected = {f"<{r.id.hex}.outbox@roundtable.example.com>" for r in rows}
    counts = smtp.handler.message_ids()
    assert set(counts) == expected, "none lost"
    assert [mid for mid, n in counts.items() if n > 1] == [], "none duplicated"
