"""Time `availableSlots` for a heavy interview and count its SQL statements.

50 windows over four weeks, 8 member participants who each have 200 booked interviews
elsewhere. Runs against a fresh SQLite file, or PostgreSQL with --postgres URL.

    .venv/bin/python bench/available_slots.py [--postgres postgresql://postgres@127.0.0.1/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event

from app.config import Settings
from app.db import create_engine, create_session_factory
from app.main import create_app
from app.migrate import upgrade
from app.models import (
    Interview,
    InterviewStatus,
    Participant,
    ParticipantKind,
    Proposal,
    Role,
    SlotReservation,
)
from app.people import service
from app.people.tokens import issue_token
from app.scheduling import repository
from app.scheduling.windows import TimeRange

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
QUERY = """query($id: ID!) { availableSlots(interviewId: $id, timeZone: "Asia/Kolkata") {
  days { date slots { start end } } warning } }"""


async def seed(settings: Settings) -> tuple[str, str]:
    engine = create_engine(settings)
    async with create_session_factory(engine)() as session:
        org = await service.create_organization(session=session, name="Bench")
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
        members = [
            await service.create_user(
                session=session,
                email=f"m{i}@bench.example.com",
                name=f"M{i}",
                role=Role.HIRING_MEMBER,
                time_zone="America/New_York",
                organization_id=org.id,
            )
            for i in range(8)
        ]
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
        # 50 two-hour windows over four weeks, 13:00-15:00 UTC on weekdays and some evenings
        windows = []
        day = NOW.replace(hour=13, minute=0) + timedelta(days=1)
        while len(windows) < 50:
            windows.append(TimeRange(day, day + timedelta(hours=2)))
            if len(windows) < 50:
                windows.append(TimeRange(day + timedelta(hours=5), day + timedelta(hours=7)))
            day += timedelta(days=1)
        repository.add_windows(session, interview.id, windows)
        session.add_all(
            Participant(
                interview_id=interview.id, kind=ParticipantKind.MEMBER, user_id=m.id, email=m.email
            )
            for m in members
        )
        # 200 booked interviews elsewhere per member, spread over the same four weeks
        other_proposal = proposal
        round_no = 2
        for index, member in enumerate(members):
            for n in range(200):
                start = NOW + timedelta(days=1, minutes=30 * (n * 3 + index))
                other = Interview(
                    id=uuid.uuid4(),
                    proposal_id=other_proposal.id,
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
        token = (await issue_token(session=session, user=candidate)).token
        await session.commit()
    await engine.dispose()
    return str(interview.id), token


async def measure(settings: Settings, repeats: int) -> None:
    interview_id, token = await seed(settings)
    engine = create_engine(settings)
    statements: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    app = create_app(settings, engine=engine, clock=lambda: NOW)
    timings = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench"
    ) as http:
        for i in range(repeats + 1):
            if i == repeats:
                event.listen(engine.sync_engine, "before_cursor_execute", count)
            began = time.perf_counter()
            response = await http.post(
                "/graphql",
                json={"query": QUERY, "variables": {"id": interview_id}},
                headers={"Authorization": f"Bearer {token}"},
            )
            timings.append(time.perf_counter() - began)
            body = response.json()
            assert "errors" not in body, body
    event.remove(engine.sync_engine, "before_cursor_execute", count)
    slots = sum(len(d["slots"]) for d in body["data"]["availableSlots"]["days"])
    queries = [
        s
        for s in statements
        if s.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE"))
    ]
    print(f"database: {settings.async_database_url.split(':')[0]}")
    print(f"free slots returned: {slots}; warning: {body['data']['availableSlots']['warning']!r}")
    print(f"availableSlots over HTTP (in-process ASGI), {repeats} runs after one warm-up:")
    print(
        f"  median {statistics.median(timings[1:repeats]) * 1000:.1f} ms, "
        f"max {max(timings[1:repeats]) * 1000:.1f} ms, first {timings[0] * 1000:.1f} ms"
    )
    print(f"SQL statements for one call: {len(queries)}")
    await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", help="admin URL; a scratch database is created and dropped")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    if args.postgres:
        name = "roundtable_bench"
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
