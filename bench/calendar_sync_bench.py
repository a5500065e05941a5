"""Sync 500 bookings into the fake Google Calendar and Microsoft Graph with 2 worker processes.

Ten teams of two members, one connected to Google and the other to Microsoft (the
requesting member alternates, so both providers create conferences); 50 interviews per
team, each on a day of its own. Each booking goes through the booking service
(`booking.book_slot`, free/busy from the fakes included) and commits its calendar_sync
outbox row with it, then wakes an outbox relay like the API's. Two `dramatiq
app.workers.entry` processes on the real Redis broker and PostgreSQL write the events
into the fakes, which run in this process on loopback.

Prints events per second and the p50/p99 time from booking commit to event created (the
worker records `CalendarEvent.synced_at` right after the provider answered), and checks
that every calendar holds exactly one event per booking.

    .venv/bin/python bench/calendar_sync_bench.py [--bookings 500] [--threads 8] [--rate 0]
        [--backlog] [--fail-rate 0] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
        [--redis redis://127.0.0.1:6379/15]

Only calendar_sync rows are published: the bookings' mails stay in the outbox, so the
figures are the calendar path alone (bench/outbox_bench.py measures mail). Unpaced, the
throughput is bounded by how fast this one process books; `--backlog` commits every booking
first and then measures how fast the workers drain them; `--rate 20` shows the latency
without a backlog. With `--fail-rate`, retries wait out the workers' exponential backoff
(from 0.5 s here), which then dominates the tail.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the fakes under tests/

from outbox_bench import (  # bench/ is this script's directory
    create_database,
    percentile,
    start_workers,
    tear_down,
    wait_for_ready,
)

from app.access import load_viewer
from app.calendars.base import AccountInfo, event_key
from app.calendars.connections import save_connection
from app.calendars.tokens import TokenSet
from app.config import Settings
from app.db import begin_write, create_engine, create_session_factory
from app.migrate import upgrade
from app.models import (
    AvailabilityWindow,
    CalendarEvent,
    CalendarEventState,
    CalendarProvider,
    Interview,
    Participant,
    ParticipantKind,
    Proposal,
    Role,
    User,
)
from app.outbox.relay import OutboxRelay
from app.outbox.topics import SYNC_TOPIC
from app.people import service
from app.scheduling import booking
from app.workers.actors import declare_actors
from app.workers.broker import create_broker
from app.workers.options import WorkerOptions
from app.workers.runtime import WorkerRuntime
from tests.fakes import google, microsoft
from tests.fakes.base import ServerThread
from tests.fakes.google import FakeGoogle
from tests.fakes.microsoft import FakeMicrosoft

SECRET = "bench-secret-key-" + "x" * 32
TEAMS = 10
TEAM_ZONE = "America/New_York"


def fake_settings(google_url: str, microsoft_url: str) -> dict[str, str]:
    return {
        "google_client_id": google.CLIENT_ID,
        "google_client_secret": google.CLIENT_SECRET,
        "google_api_url": f"{google_url}/calendar/v3/",
        "google_auth_url": f"{google_url}/o/oauth2/v2/auth",
        "google_token_url": f"{google_url}/token",
        "microsoft_client_id": microsoft.CLIENT_ID,
        "microsoft_client_secret": microsoft.CLIENT_SECRET,
        "microsoft_api_url": f"{microsoft_url}/",
        "microsoft_auth_url": f"{microsoft_url}/common/oauth2/v2.0/authorize",
        "microsoft_token_url": f"{microsoft_url}/common/oauth2/v2.0/token",
    }


async def seed(
    session: AsyncSession,
    settings: Settings,
    fakes: dict[CalendarProvider, FakeGoogle | FakeMicrosoft],
    bookings: int,
) -> tuple[list[tuple[uuid.UUID, uuid.UUID, datetime]], dict[str, CalendarProvider]]:
    """Pending interviews (interview, candidate, slot to book) and each member's provider."""
    manager = await service.create_user(
        session=session,
        email="am@bench.example.com",
        name="Account Manager",
        role=Role.ACCOUNT_MANAGER,
        time_zone="Europe/London",
        organization_id=None,
    )
    now = datetime.now(UTC)
    zone = ZoneInfo(TEAM_ZONE)
    first_day = now.astimezone(zone).date() + timedelta(days=1)
    providers: dict[str, CalendarProvider] = {}
    to_book: list[tuple[uuid.UUID, uuid.UUID, datetime]] = []
    per_team = -(-bookings // TEAMS)
    for team in range(TEAMS):
        org = await service.create_organization(session=session, name=f"Team {team}")
        project = await service.create_project(
            session=session,
            organization_id=org.id,
            title=f"Role {team}",
            account_manager_id=manager.id,
        )
        members = []
        for n, provider in enumerate(
            (CalendarProvider.GOOGLE, CalendarProvider.MICROSOFT)
            if team % 2 == 0
            else (CalendarProvider.MICROSOFT, CalendarProvider.GOOGLE)
        ):
            email = f"member{n}.team{team}@bench.example.com"
            member = await service.create_user(
                session=session,
                email=email,
                name=f"Member {n} of team {team}",
                role=Role.HIRING_MEMBER,
                time_zone=TEAM_ZONE,
                organization_id=org.id,
            )
            tokens = TokenSet.from_response(fakes[provider].oauth.issue_tokens(email), now=now)
            calendar_id = (
                email if provider is CalendarProvider.GOOGLE else microsoft.calendar_id_of(email)
            )
            await save_connection(
                session=session,
                settings=settings,
                user_id=member.id,
                provider=provider,
                account=AccountInfo(email=email, calendar_id=calendar_id),
                tokens=tokens,
                now=now,
            )
            providers[email] = provider
            members.append(member)
        for day in range(min(per_team, bookings - len(to_book))):
            candidate = User(
                id=uuid.uuid4(),
                email=f"candidate{team}.{day}@bench.example.com",
                name=f"Candidate {team}.{day}",
                role=Role.CANDIDATE,
                time_zone="Asia/Kolkata",
            )
            proposal = Proposal(id=uuid.uuid4(), project_id=project.id, candidate_id=candidate.id)
            interview = Interview(
                id=uuid.uuid4(),
                proposal_id=proposal.id,
                round=1,
                requested_by_id=members[0].id,
                time_zone=TEAM_ZONE,
                requested_at=now,
            )
            date = first_day + timedelta(days=day)
            windows = [
                AvailabilityWindow(
                    interview_id=interview.id,
                    position=position,
                    starts_at=datetime.combine(date, start, zone).astimezone(UTC),
                    ends_at=datetime.combine(date, start, zone).astimezone(UTC)
                    + timedelta(hours=1),
                )
                for position, start in enumerate(
                    (datetime.min.time().replace(hour=9), datetime.min.time().replace(hour=13))
                )
            ]
            participants = [
                Participant(
                    interview_id=interview.id,
                    kind=ParticipantKind.MEMBER,
                    user_id=m.id,
                    email=m.email,
                )
                for m in members
            ]
            for batch in ([candidate], [proposal], [interview], windows, participants):
                session.add_all(batch)
                await session.flush()
            to_book.append((interview.id, candidate.id, windows[0].starts_at))
    await session.commit()
    return to_book, providers


async def book_all(
    settings: Settings,
    to_book: list[tuple[uuid.UUID, uuid.UUID, datetime]],
    relay: OutboxRelay,
    rate: float,
) -> dict[uuid.UUID, datetime]:
    """Book each interview through the booking service; returns the commit time of each."""
    engine = create_engine(settings)
    sessions = create_session_factory(engine)
    committed: dict[uuid.UUID, datetime] = {}
    try:
        began = time.monotonic()
        for n, (interview_id, candidate_id, start) in enumerate(to_book):
            if rate > 0:  # paced: latency without a backlog; unpaced: as fast as possible
                await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
            async with sessions() as session:
                candidate = await session.get(User, candidate_id)
                assert candidate is not None
                viewer = await load_viewer(session, candidate)
                # The calendars are asked before the booking's write transaction opens.
                calendars = await booking.ask_member_calendars(
                    session=session, viewer=viewer, settings=settings, interview_id=interview_id
                )
                await begin_write(session)
                await booking.book_slot(
                    session=session,
                    viewer=viewer,
                    settings=settings,
                    interview_id=interview_id,
                    start=start,
                    time_zone="UTC",
                    now=datetime.now(UTC),
                    calendars=calendars,
                )
                await session.commit()
                committed[interview_id] = datetime.now(UTC)
            relay.wake()  # what the API's unit of work does after each commit
    finally:
        await engine.dispose()
    return committed


async def synced_events(settings: Settings) -> list[tuple[uuid.UUID, uuid.UUID, datetime]]:
    engine = create_engine(settings, pool=False)
    try:
        async with create_session_factory(engine)() as session:
            rows = (
                await session.execute(
                    select(
                        CalendarEvent.interview_id,
                        CalendarEvent.participant_id,
                        CalendarEvent.synced_at,
                    ).where(CalendarEvent.state == CalendarEventState.SYNCED)
                )
            ).all()
            await session.commit()
    finally:
        await engine.dispose()
    return [(r.interview_id, r.participant_id, r.synced_at) for r in rows]


async def count_synced(settings: Settings) -> int:
    engine = create_engine(settings, pool=False)
    try:
        async with create_session_factory(engine)() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(CalendarEvent)
                .where(CalendarEvent.state == CalendarEventState.SYNCED)
            )
            await session.commit()
    finally:
        await engine.dispose()
    return int(count or 0)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bookings", type=int, default=500)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--rate", type=float, default=0, help="bookings per second (default: as fast as possible)"
    )
    parser.add_argument(
        "--backlog",
        action="store_true",
        help="commit every booking first, then start the relay: the workers' own capacity",
    )
    parser.add_argument(
        "--fail-rate", type=float, default=0.0, help="share of provider calls failing (5xx, 429)"
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
    if args.bookings > TEAMS * 80:
        raise SystemExit(f"at most {TEAMS * 80} bookings: one day each, within 90 days")

    fake_google, fake_microsoft = FakeGoogle(), FakeMicrosoft()
    fakes: dict[CalendarProvider, FakeGoogle | FakeMicrosoft] = {
        CalendarProvider.GOOGLE: fake_google,
        CalendarProvider.MICROSOFT: fake_microsoft,
    }
    if args.fail_rate:
        for n, fake in enumerate(fakes.values()):
            fake.faults.fail_randomly(args.fail_rate, seed=n, retry_after=1.0)
    google_server, microsoft_server = (
        ServerThread(fake_google.app),
        ServerThread(fake_microsoft.app),
    )
    google_server.start()
    microsoft_server.start()

    db_name = f"roundtable_calendar_bench_{os.getpid()}"
    database_url = await create_database(args.postgres, db_name)
    await asyncio.to_thread(upgrade, database_url)
    namespace = f"roundtable-bench-{uuid.uuid4().hex[:8]}"
    mail_dir = Path(tempfile.mkdtemp()) / "mail"
    providers_config = fake_settings(google_server.url, microsoft_server.url)
    settings = Settings(
        database_url=database_url,
        broker_url=args.redis,
        secret_key=SECRET,
        mail_dir=mail_dir,
        reminder_after_hours=24 * 365 * 50,
        **providers_config,  # type: ignore[arg-type]
    )
    # The workers' own sweeps would publish the bookings' mails too: only the relay
    # publishes here, and only calendar_sync rows.
    options = WorkerOptions(namespace=namespace, sweep_interval_seconds=3600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUNDTABLE_")}
    env |= {f"ROUNDTABLE_{k.upper()}": v for k, v in providers_config.items()}
    env |= {
        "ROUNDTABLE_DATABASE_URL": settings.database_url,
        "ROUNDTABLE_BROKER_URL": settings.broker_url,
        "ROUNDTABLE_SECRET_KEY": SECRET,
        "ROUNDTABLE_MAIL_DIR": str(mail_dir),
        "ROUNDTABLE_REMINDER_AFTER_HOURS": str(settings.reminder_after_hours),
        "ROUNDTABLE_WORKER_NAMESPACE": namespace,
        "ROUNDTABLE_WORKER_SWEEP_INTERVAL_SECONDS": "3600",
        "ROUNDTABLE_WORKER_MIN_BACKOFF_SECONDS": "0.5",
        "ROUNDTABLE_WORKER_MAX_ATTEMPTS": "20",
    }
    log = Path(tempfile.mkdtemp()) / "workers.log"
    workers = start_workers(env, args.processes, args.threads, log)
    broker = create_broker(settings.broker_url, options)
    relay: OutboxRelay | None = None
    try:
        engine = create_engine(settings)
        async with create_session_factory(engine)() as session:
            to_book, providers = await seed(session, settings, fakes, args.bookings)
            await session.commit()
        await engine.dispose()
        await asyncio.to_thread(wait_for_ready, log, args.processes)

        actors = declare_actors(broker, WorkerRuntime(settings, options))
        relay = OutboxRelay(
            settings=settings, publish=actors.publish, topics={SYNC_TOPIC}, options=options
        )
        if not args.backlog:
            relay.start()
        began = time.time()
        committed = await book_all(settings, to_book, relay, args.rate)
        commit_seconds = time.time() - began
        released = min(committed.values())
        if args.backlog:
            released = datetime.now(UTC)
            relay.start()
        expected = 2 * len(committed)
        deadline = time.monotonic() + 600
        while (done := await count_synced(settings)) < expected:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {done} of {expected} events synced; see {log}")
            await asyncio.sleep(0.2)

        events = await synced_events(settings)
        latencies = [(at - committed[interview]).total_seconds() for interview, _, at in events]
        per_booking: dict[uuid.UUID, datetime] = {}
        for interview, _, at in events:
            per_booking[interview] = max(at, per_booking.get(interview, at))
        booking_latencies = [(at - committed[i]).total_seconds() for i, at in per_booking.items()]
        elapsed = (max(at for _, _, at in events) - released).total_seconds()

        # Exactly one event per booking and member in the fakes, none twice.
        stored: Counter[str] = Counter()
        for email, provider in providers.items():
            for event in fakes[provider].events(email):
                stored[
                    str(
                        event["id"]
                        if provider is CalendarProvider.GOOGLE
                        else event["transactionId"]
                    )
                ] += 1
        wanted = Counter(event_key(interview, participant) for interview, participant, _ in events)
        duplicates = sum(n - 1 for n in stored.values() if n > 1)
        injected = sum(f.faults.injected for f in fakes.values())

        pace = f"paced at {args.rate:g}/s" if args.rate else "unpaced"
        pace += ", then published at once" if args.backlog else ""
        since = "relay start" if args.backlog else "first commit"
        print(f"bookings committed:     {len(committed)} in {commit_seconds:.2f} s ({pace})")
        print(
            f"events created:         {len(events)} ({duplicates} duplicates, "
            f"{'all' if stored == wanted else 'NOT all'} as expected in the fakes)"
        )
        print(f"provider faults:        {injected} injected (fail rate {args.fail_rate:g})")
        print(f"workers:                {args.processes} processes x {args.threads} threads")
        print(
            f"throughput:             {len(events) / elapsed:.0f} events/s "
            f"({since} to last event {elapsed:.2f} s)"
        )
        print(
            f"commit -> event:        p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms"
        )
        print(
            f"commit -> all events:   p50 {statistics.median(booking_latencies) * 1000:.0f} ms, "
            f"p99 {percentile(booking_latencies, 0.99) * 1000:.0f} ms (per booking)"
        )
        if stored != wanted:
            raise SystemExit("the fakes do not hold exactly one event per booking and member")
    finally:
        google_server.stop()
        microsoft_server.stop()
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
