"""Push 1,000 bookings' outbox rows through Redis and 2 worker processes into loopback SMTP.

Each booking commits its mails (candidate and member with an iCalendar invite, the account
manager without) in its own transaction, as the API does, and wakes an outbox relay like
the API's. Two `dramatiq app.workers.entry` processes deliver to an aiosmtpd server in this
process. Prints messages per second and the p50/p99 time from commit to SMTP acceptance.

    .venv/bin/python bench/outbox_bench.py [--bookings 1000] [--threads 8] [--rate 30]
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--redis redis://127.0.0.1:6379/15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import begin_write, create_engine, create_session_factory
from app.migrate import upgrade
from app.models import (
    Interview,
    InterviewStatus,
    OutboxMessage,
    Participant,
    ParticipantKind,
    Proposal,
    Role,
    User,
)
from app.notifications.kinds import InviteMethod, MessageKind
from app.notifications.service import tell, user_recipient
from app.outbox.relay import OutboxRelay
from app.outbox.topics import names as topic_names
from app.people import service
from app.workers.broker import create_broker
from app.workers.options import WorkerOptions

START = datetime(2027, 1, 4, 14, tzinfo=UTC)
SECRET = "bench-secret-key-" + "x" * 32
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>]+>)", re.MULTILINE | re.IGNORECASE)


class Arrivals:
    """The SMTP server's side: when each Message-ID was accepted."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.duplicates = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        # Only the Message-ID: the bench process also commits the bookings, keep it light.
        found = MESSAGE_ID.search(envelope.content)
        assert found is not None
        key = found.group(1).decode()
        with self.lock:
            if key in self.at:
                self.duplicates += 1
            else:
                self.at[key] = time.time()
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def create_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def seed(session: AsyncSession, bookings: int) -> list[uuid.UUID]:
    """Booked interviews, each with its own candidate; one member and manager for all."""
    org = await service.create_organization(session=session, name="Bench")
    manager = await service.create_user(
        session=session,
        email="am@bench.example.com",
        name="Account Manager",
        role=Role.ACCOUNT_MANAGER,
        time_zone="Europe/London",
        organization_id=None,
    )
    member = await service.create_user(
        session=session,
        email="member@bench.example.com",
        name="Member",
        role=Role.HIRING_MEMBER,
        time_zone="America/New_York",
        organization_id=org.id,
    )
    project = await service.create_project(
        session=session, organization_id=org.id, title="Bench", account_manager_id=manager.id
    )
    candidates = [
        User(
            id=uuid.uuid4(),
            email=f"candidate{i}@bench.example.com",
            name=f"Candidate {i}",
            role=Role.CANDIDATE,
            time_zone="Asia/Kolkata",
        )
        for i in range(bookings)
    ]
    proposals = [
        Proposal(id=uuid.uuid4(), project_id=project.id, candidate_id=c.id) for c in candidates
    ]
    interviews = [
        Interview(
            id=uuid.uuid4(),
            proposal_id=proposal.id,
            round=1,
            requested_by_id=member.id,
            time_zone="America/New_York",
            status=InterviewStatus.BOOKED,
            booked_start=START + timedelta(minutes=30 * i),
            booked_end=START + timedelta(minutes=30 * i + 30),
            booked_by_id=proposal.candidate_id,
            conference_url=f"https://meet.bench.example.com/{i}",
            conference_provider="roundtable",
        )
        for i, proposal in enumerate(proposals)
    ]
    participants = [
        Participant(
            interview_id=i.id, kind=ParticipantKind.MEMBER, user_id=member.id, email=member.email
        )
        for i in interviews
    ]
    # No relationships between these models: flush table by table, parents first.
    for batch in (candidates, proposals, interviews, participants):
        session.add_all(batch)
        await session.flush()
    interview_ids = [i.id for i in interviews]
    await session.commit()
    return interview_ids


async def commit_bookings(
    settings: Settings, interview_ids: list[uuid.UUID], relay: OutboxRelay, rate: float
) -> dict[str, float]:
    """One transaction per booking with its three mails; returns commit time per Message-ID."""
    engine = create_engine(settings)
    sessions = create_session_factory(engine)
    committed: dict[str, float] = {}
    domain = "roundtable.example.com"
    try:
        async with sessions() as session:
            member = await session.scalar(select(User).where(User.role == Role.HIRING_MEMBER))
            manager = await session.scalar(select(User).where(User.role == Role.ACCOUNT_MANAGER))
            await session.commit()
        assert member is not None and manager is not None
        began = time.monotonic()
        for n, interview_id in enumerate(interview_ids):
            if rate > 0:  # paced: latency without a backlog; unpaced: as fast as possible
                await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
            async with sessions() as session:
                await begin_write(session)
                interview = await session.get(Interview, interview_id)
                assert interview is not None
                proposal = await session.get(Proposal, interview.proposal_id)
                assert proposal is not None
                candidate = await session.get(User, proposal.candidate_id)
                assert candidate is not None
                tell(
                    session,
                    recipients=[
                        user_recipient(candidate, InviteMethod.REQUEST),
                        user_recipient(member, InviteMethod.REQUEST),
                        user_recipient(manager),
                    ],
                    kind=MessageKind.INTERVIEW_BOOKED,
                    interview=interview,
                    message="booked",
                )
                rows = [o for o in session.new if isinstance(o, OutboxMessage)]
                await session.commit()
                now = time.time()
                for row in rows:
                    committed[f"<{row.id.hex}.outbox@{domain}>"] = now
            relay.wake()  # what the API's unit of work does after each commit
    finally:
        await engine.dispose()
    return committed


def start_workers(
    env: dict[str, str], processes: int, threads: int, log: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "dramatiq", "app.workers.entry"),
                *("--processes", str(processes), "--threads", str(threads)),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_ready(log: Path, processes: int, deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    while log.read_text().count("ready for action") < processes:
        if time.monotonic() > end:
            raise SystemExit(f"workers did not start; see {log}")
        time.sleep(0.1)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def tear_down(
    *,
    relay: Any,
    broker: Any,
    workers: subprocess.Popen[bytes],
    redis_url: str,
    namespace: str,
    postgres_url: str,
    db_name: str,
) -> None:
    """Stop the relay, broker and worker processes; drop the bench's Redis keys and database."""
    if relay is not None:
        relay.stop()
    broker.close()
    if workers.poll() is None:
        workers.send_signal(signal.SIGTERM)
        workers.wait(timeout=60)
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{namespace}*"))
    if keys:
        client.delete(*keys)
    client.close()
    await drop_database(postgres_url, db_name)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bookings", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--rate", type=float, default=0, help="bookings per second (default: as fast as possible)"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "ROUNDTABLE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument(
        "--redis", default=os.environ.get("ROUNDTABLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    )
    args = parser.parse_args()

    db_name = f"roundtable_outbox_bench_{os.getpid()}"
    database_url = await create_database(args.postgres, db_name)
    await asyncio.to_thread(upgrade, database_url)
    arrivals = Arrivals()
    smtp_port = free_port()
    controller = Controller(arrivals, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    namespace = f"roundtable-bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        database_url=database_url,
        broker_url=args.redis,
        smtp_url=f"smtp://127.0.0.1:{smtp_port}",
        secret_key=SECRET,
        reminder_after_hours=24 * 365 * 50,
    )
    options = WorkerOptions(namespace=namespace, sweep_interval_seconds=5)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUNDTABLE_")}
    env |= {
        "ROUNDTABLE_DATABASE_URL": settings.database_url,
        "ROUNDTABLE_BROKER_URL": settings.broker_url,
        "ROUNDTABLE_SMTP_URL": settings.smtp_url,
        "ROUNDTABLE_SECRET_KEY": SECRET,
        "ROUNDTABLE_REMINDER_AFTER_HOURS": str(settings.reminder_after_hours),
        "ROUNDTABLE_WORKER_NAMESPACE": namespace,
        "ROUNDTABLE_WORKER_SWEEP_INTERVAL_SECONDS": "5",
    }
    log = Path(tempfile.mkdtemp()) / "workers.log"
    workers = start_workers(env, args.processes, args.threads, log)
    broker = create_broker(settings.broker_url, options)
    relay: OutboxRelay | None = None
    try:
        engine = create_engine(settings)
        async with create_session_factory(engine)() as session:
            interview_ids = await seed(session, args.bookings)
        await engine.dispose()
        await asyncio.to_thread(wait_for_ready, log, args.processes)

        from app.workers.actors import declare_actors
        from app.workers.runtime import WorkerRuntime

        actors = declare_actors(broker, WorkerRuntime(settings, options))
        relay = OutboxRelay(
            settings=settings, publish=actors.publish, topics=topic_names(), options=options
        )
        relay.start()
        began = time.time()
        committed = await commit_bookings(settings, interview_ids, relay, args.rate)
        commit_seconds = time.time() - began
        deadline = time.monotonic() + 600
        while len(arrivals.at) < len(committed):
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(arrivals.at)} of {len(committed)} mails arrived")
            await asyncio.sleep(0.05)
        latencies = [arrivals.at[k] - committed[k] for k in committed]
        elapsed = max(arrivals.at.values()) - began
        pace = f"paced at {args.rate:g}/s" if args.rate else "unpaced"
        print(f"bookings committed:     {args.bookings} in {commit_seconds:.2f} s ({pace})")
        print(f"mails delivered:        {len(committed)} ({arrivals.duplicates} duplicates)")
        print(f"workers:                {args.processes} processes x {args.threads} threads")
        print(f"throughput:             {len(committed) / elapsed:.0f} messages/s")
        print(
            f"commit -> delivery:     p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms"
        )
    finally:
        controller.stop()
        await tear_down(
            relay=relay,
            broker=broker,
            workers=workers,
            redis_url=args.redis,
            namespace=namespace,
            postgres_url=args.postgres,
            db_name=db_name,
        )


if __name__ == "__main__":
    asyncio.run(main())
