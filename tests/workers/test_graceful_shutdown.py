"""SIGTERM finishes what is in flight: an API's request, a worker's claimed deliveries.

Each test holds the work in the middle deterministically (a PostgreSQL row lock under a
booking; an SMTP server that leaves DATA unanswered), sends SIGTERM, waits until the
process logs that it is shutting down, and only then lets the work go on.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.db import begin_write
from app.models import OutboxStatus, utcnow
from tests.conftest import SECRET, Clock
from tests.factories import book_first_slot, make_interview, make_world
from tests.test_ops import BOOK
from tests.workers.conftest import NEVER_HOURS, eventually, mail_rows, outbox_rows
from tests.workers.smtp import Hold, SmtpServer, free_port
from tests.workers.test_production_shape import SLOTS

ROUNDTABLE = [sys.executable, "-m", "app.cli"]


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def logged(log: Path, text: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return text in await asyncio.to_thread(log.read_text, errors="replace")

    return check


def base_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUNDTABLE_")}
    env.update(
        ROUNDTABLE_DATABASE_URL=database_url,
        ROUNDTABLE_SECRET_KEY=SECRET,
        ROUNDTABLE_PUBLIC_URL="https://roundtable.example.com",
        ROUNDTABLE_REMINDER_AFTER_HOURS=str(NEVER_HOURS),
        ROUNDTABLE_RATE_LIMITS="off",
    )
    return env


@pytest.mark.postgres_only
async def test_sigterm_lets_the_api_finish_a_request_in_flight(
    database_url: str,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    started: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    world = await make_world(session)
    # The API runs on the real clock: an interview requested now, booked at its first slot.
    interview = await make_interview(session, settings, world.a, utcnow())
    await session.commit()
    env = base_env(database_url) | {"ROUNDTABLE_MAIL_DIR": str(tmp_path / "mail")}
    port, log = free_port(), tmp_path / "api.log"
    api = start([*ROUNDTABLE, "api", "--port", str(port)], env, log)
    started.append(api)
    base = f"http://127.0.0.1:{port}"

    async def ready() -> bool:
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                return (await http.get(f"{base}/ready")).status_code == 200
        except httpx.TransportError:
            return False

    await eventually(ready, what="the API ready", deadline_seconds=60)
    candidate = {"Authorization": f"Bearer {world.token(world.a.candidate)}"}
    async with httpx.AsyncClient(timeout=20) as http:
        days = (
            await http.post(f"{base}/graphql", json={"query": SLOTS, "variables": {"id": str(interview.id)}}, headers=candidate)
        ).json()["data"]["availableSlots"]["days"]
    start_at = days[0]["slots"][0]["start"]

    # The booking waits for the row locks of the people it books: hold them.
    locker = await asyncpg.connect(database_url)
    try:
        transaction = locker.transaction()
        await transaction.start()
        await locker.execute("SELECT id FROM users FOR UPDATE")
        async with httpx.AsyncClient(timeout=60) as http:
            booking = asyncio.create_task(
                http.post(
                    f"{base}/graphql",
                    json={"query": BOOK, "variables": {"input": {"interviewId": str(interview.id), "start": start_at, "timeZone": "UTC"}}},
                    headers=candidate,
                )
            )

            async def booking_waits_on_the_lock() -> bool:
                waiting = await locker.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database()"
                )
                return bool(waiting)

            await eventually(booking_waits_on_the_lock, what="the booking waiting in PostgreSQL")
            api.send_signal(signal.SIGTERM)
            await eventually(logged(log, "Shutting down"), what="the API shutting down")
            await transaction.commit()
            response = await booking
    finally:
        await locker.close()  # a failed test must not leave the locks to the next one

    assert response.status_code == 200
    booked = response.json()["data"]["bookInterview"]
    assert booked["errors"] == [] and booked["interview"]["status"] == "BOOKED"
    # uvicorn ends by raising the signal it handled again, after the graceful part.
    assert await asyncio.to_thread(api.wait, 60) in (0, -signal.SIGTERM)
    assert "Finished server process" in log.read_text(errors="replace")


@pytest.mark.postgres_only
async def test_sigterm_lets_the_worker_finish_its_claimed_deliveries(
    session: AsyncSession,
    engine: AsyncEngine,
    worker_settings: Settings,
    namespace: str,
    clock: Clock,
    smtp: SmtpServer,
    started: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    await begin_write(session)
    world = await make_world(session)
    await begin_write(session)
    interview = await make_interview(session, worker_settings, world.a, clock.now)
    await begin_write(session)
    await book_first_slot(session, worker_settings, world.a, interview, clock.now)
    threads = 2
    assert len(mail_rows(await outbox_rows(engine))) > threads
    hold = Hold(accept_first=0, answer="250 OK")  # accepted, once let go
    smtp.handler.hold = hold

    env = base_env(worker_settings.database_url)
    env.update(
        ROUNDTABLE_BROKER_URL=worker_settings.broker_url,
        ROUNDTABLE_SMTP_URL=worker_settings.smtp_url,
        ROUNDTABLE_WORKER_NAMESPACE=namespace,
        ROUNDTABLE_WORKER_PROCESSES="1",
        ROUNDTABLE_WORKER_THREADS=str(threads),
        ROUNDTABLE_WORKER_SWEEP_INTERVAL_SECONDS="0.2",
        dramatiq_prom_port=str(free_port()),
    )
    log = tmp_path / "worker.log"
    worker = start([*ROUNDTABLE, "worker"], env, log)
    started.append(worker)

    async def both_threads_held() -> bool:
        return hold.waiting == threads

    await eventually(both_threads_held, what="both worker threads in the middle of a delivery")
    worker.send_signal(signal.SIGTERM)  # the supervisor passes it on to its worker process
    await eventually(logged(log, "Shutting down"), what="the worker shutting down")
    hold.released.set()
    assert await asyncio.to_thread(worker.wait, 60) == 0

    rows = mail_rows(await outbox_rows(engine))
    done = [r for r in rows if r.status is OutboxStatus.DONE]
    # The two claimed when the signal came were finished and marked; nothing new was taken.
    assert len(done) == threads
    assert smtp.handler.data_calls == threads  # and answered 250 once let go
    assert all(r.status is OutboxStatus.PENDING and r.attempts == 0 for r in rows if r not in done)
