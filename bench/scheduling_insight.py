"""Time find times (suggestWindows) and slot explanations (slotExplanations).

Find times: 8 members, 4 weeks, every member with a connected calendar (Google and
Microsoft fakes over HTTP, 80 busy events each) and 100 Roundtable bookings each, in four
zones (New York, London, Kolkata +05:30, Kathmandu +05:45), one load limit set.
Explanations: an interview of those 8 members with 50 two-hour windows (200 slots).
Each query is timed with the free/busy cache off (every call asks the providers) and on.

    .venv/bin/python bench/scheduling_insight.py [--postgres postgresql://postgres@127.0.0.1/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the fakes under tests/
sys.path.insert(0, str(Path(__file__).resolve().parent))

from calendar_sync_bench import fake_settings  # bench/ is this script's directory

from app.access import load_viewer
from app.calendars.base import AccountInfo
from app.calendars.connections import save_connection
from app.calendars.freebusy import clear_busy_cache
from app.calendars.tokens import TokenSet
from app.config import Settings
from app.db import create_engine, create_session_factory
from app.main import create_app
from app.migrate import upgrade
from app.models import (
    CalendarProvider,
    Interview,
    InterviewStatus,
    Participant,
    ParticipantKind,
    Proposal,
    Role,
    SlotReservation,
    User,
)
from app.people import service
from app.people.tokens import issue_token
from app.scheduling import insight, repository
from app.scheduling.windows import TimeRange
from tests.fakes import microsoft
from tests.fakes.base import ServerThread
from tests.fakes.google import FakeGoogle
from tests.fakes.microsoft import FakeMicrosoft

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
ZONES = ["America/New_York", "Europe/London", "Asia/Kolkata", "Asia/Kathmandu"]
MEMBERS, BUSY_EVENTS, BOOKINGS, WINDOWS = 8, 80, 100, 50
SUGGEST = """query($proposal: ID!, $people: [ID!]!) {
  suggestWindows(proposalId: $proposal, participantIds: $people, days: 28) {
    start end freeParticipants { id } uncheckedParticipants { id } } }"""
SLOTS = """query($id: ID!) { availableSlots(interviewId: $id, timeZone: "UTC") {
  days { slots { start } } } }"""
EXPLAIN = """query($id: ID!) { slotExplanations(interviewId: $id) {
  start offered reasons { code message participant { id } } } }"""


async def seed(settings: Settings, fakes: dict[CalendarProvider, Any]) -> dict[str, Any]:
    engine = create_engine(settings)
    async with create_session_factory(engine)() as session:
        org = await service.create_organization(session=session, name="Bench")
        org.max_interviews_per_week = 20
        manager = await service.create_user(
            session=session,
            email="am@bench.example.com",
            name="AM",
            role=Role.ACCOUNT_MANAGER,
            time_zone="UTC",
            organization_id=None,
        )
        project = await service.create_project(
            session=session, organization_id=org.id, title="Bench", account_manager_id=manager.id
        )
        members = []
        for i in range(MEMBERS):
            email = f"m{i}@bench.example.com"
            member = await service.create_user(
                session=session,
                email=email,
                name=f"M{i}",
                role=Role.HIRING_MEMBER,
                time_zone=ZONES[i % len(ZONES)],
                organization_id=org.id,
            )
            provider = CalendarProvider.GOOGLE if i % 2 else CalendarProvider.MICROSOFT
            fake = fakes[provider]
            tokens = TokenSet.from_response(fake.oauth.issue_tokens(email), now=NOW)
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
                now=NOW,
            )
            for n in range(BUSY_EVENTS):
                start = NOW + timedelta(hours=8 * n + i, minutes=15 * (n % 4))
                fake.add_busy(email, start, start + timedelta(minutes=45))
            members.append(member)
        candidate = await service.create_user(
            session=session,
            email="c@bench.example.com",
            name="C",
            role=Role.CANDIDATE,
            time_zone="Asia/Kolkata",
            organization_id=None,
        )
        proposal = Proposal(project_id=project.id, candidate_id=candidate.id)
        session.add(proposal)
        await session.flush()
        interview = Interview(
            id=uuid.uuid4(),
            proposal_id=proposal.id,
            round=1,
            requested_by_id=members[0].id,
            time_zone="America/New_York",
            duration_minutes=30,
            requested_at=NOW,
        )
        session.add(interview)
        await session.flush()
        windows, day = [], NOW.replace(hour=13, minute=0) + timedelta(days=1)
        while len(windows) < WINDOWS:
            windows.append(TimeRange(day, day + timedelta(hours=2)))
            windows.append(TimeRange(day + timedelta(hours=5), day + timedelta(hours=7)))
            day += timedelta(days=1)
        repository.add_windows(session, interview.id, windows[:WINDOWS])
        session.add_all(
            Participant(
                interview_id=interview.id, kind=ParticipantKind.MEMBER, user_id=m.id, email=m.email
            )
            for m in members
        )
        round_no = 2
        for index, member in enumerate(members):
            for n in range(BOOKINGS):
                start = NOW + timedelta(days=1, minutes=30 * (n * 6 + index))
                other = Interview(
                    id=uuid.uuid4(),
                    proposal_id=proposal.id,
                    round=round_no,
                    requested_by_id=member.id,
                    time_zone="UTC",
                    duration_minutes=30,
                    requested_at=NOW,
                    status=InterviewStatus.BOOKED,
                    booked_start=start,
                    booked_end=start + timedelta(minutes=30),
                )
                round_no += 1
                session.add(other)
                session.add(
                    SlotReservation(
                        interview_id=other.id,
                        user_id=member.id,
                        starts_at=start,
                        ends_at=start + timedelta(minutes=30),
                    )
                )
        token = (await issue_token(session=session, user=members[0])).token
        candidate_token = (await issue_token(session=session, user=candidate)).token
        await session.commit()
    await engine.dispose()
    return {
        "token": token,
        "candidate_token": candidate_token,
        "interview": str(interview.id),
        "proposal": str(proposal.id),
        "members": [str(m.id) for m in members],
    }


async def timed(
    settings: Settings,
    seeded: dict[str, Any],
    query: str,
    variables: dict[str, Any],
    repeats: int,
    *,
    cached: bool,
    token: str | None = None,
) -> tuple[list[float], int, Any]:
    engine = create_engine(settings)
    statements: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
            statements.append(statement)

    app = create_app(settings, engine=engine, clock=lambda: NOW)
    timings = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as h:
        for i in range(repeats + 1):
            if not cached:
                clear_busy_cache()
            if i == repeats:
                event.listen(engine.sync_engine, "before_cursor_execute", count)
            began = time.perf_counter()
            response = await h.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {token or seeded['token']}"},
            )
            timings.append(time.perf_counter() - began)
            body = response.json()
            assert "errors" not in body, body
    event.remove(engine.sync_engine, "before_cursor_execute", count)
    await engine.dispose()
    return timings[1:repeats], len(statements), body["data"]


async def service_only(settings: Settings, seeded: dict[str, Any], repeats: int) -> list[float]:
    engine = create_engine(settings)
    timings = []
    async with create_session_factory(engine)() as session:
        member = await session.get(User, uuid.UUID(seeded["members"][0]))
        assert member is not None
        viewer = await load_viewer(session, member)
        for _ in range(repeats):
            began = time.perf_counter()
            await insight.explain_interview(
                session=session,
                viewer=viewer,
                settings=settings,
                interview_id=uuid.UUID(seeded["interview"]),
                now=NOW,
            )
            timings.append(time.perf_counter() - began)
    await engine.dispose()
    return timings


def report(label: str, timings: list[float], statements: int) -> None:
    print(
        f"  {label}: median {statistics.median(timings) * 1000:.1f} ms, "
        f"max {max(timings) * 1000:.1f} ms over {len(timings)} runs; "
        f"{statements} SQL statements"
    )


async def measure(settings: Settings, repeats: int) -> None:
    fakes: dict[CalendarProvider, Any] = {
        CalendarProvider.GOOGLE: FakeGoogle(),
        CalendarProvider.MICROSOFT: FakeMicrosoft(),
    }
    servers = [ServerThread(fake.app) for fake in fakes.values()]
    for server in servers:
        server.start()
    try:
        settings = settings.model_copy(
            update=fake_settings(servers[0].url, servers[1].url)  # type: ignore[arg-type]
        )
        seeded = await seed(settings, fakes)
        print(f"database: {settings.async_database_url.split(':')[0]}")
        suggest_vars = {"proposal": seeded["proposal"], "people": seeded["members"]}
        print(f"suggestWindows: {MEMBERS} members x 4 weeks, connected calendars:")
        for cached in (False, True):
            timings, statements, data = await timed(
                settings, seeded, SUGGEST, suggest_vars, repeats, cached=cached
            )
            report("free/busy cache " + ("on " if cached else "off"), timings, statements)
        windows = data["suggestWindows"]
        print(
            f"  {len(windows)} windows; most free members in one: "
            f"{max((len(w['freeParticipants']) for w in windows), default=0)}"
        )
        print(f"slotExplanations: {WINDOWS} windows, {MEMBERS} members:")
        for cached in (False, True):
            timings, statements, data = await timed(
                settings, seeded, EXPLAIN, {"id": seeded["interview"]}, repeats, cached=cached
            )
            report("free/busy cache " + ("on " if cached else "off"), timings, statements)
        slots = data["slotExplanations"]
        service = await service_only(settings, seeded, repeats)
        print(
            f"  the service alone (rules and queries, no GraphQL), cache on: median "
            f"{statistics.median(service) * 1000:.1f} ms"
        )
        print("availableSlots of the same interview, for comparison:")
        for cached in (False, True):
            timings, statements, _ = await timed(
                settings,
                seeded,
                SLOTS,
                {"id": seeded["interview"]},
                repeats,
                cached=cached,
                token=seeded["candidate_token"],
            )
            report("free/busy cache " + ("on " if cached else "off"), timings, statements)
        print(
            f"  {len(slots)} slots, {sum(s['offered'] for s in slots)} offered, "
            f"{sum(len(s['reasons']) for s in slots)} reasons"
        )
    finally:
        for server in servers:
            server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", help="admin URL; a scratch database is created and dropped")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    name = "roundtable_insight_bench"
    if args.postgres:
        admin = await asyncpg.connect(args.postgres)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    await asyncio.to_thread(upgrade, url)
    try:
        await measure(Settings(database_url=url, secret_key="b" * 40), args.repeats)
    finally:
        if args.postgres:
            admin = await asyncpg.connect(args.postgres)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
