"""Concurrent bookers on two API processes: one winner per conflict, never a 5xx or deadlock."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import load_viewer
from app.models import Role, SlotReservation
from app.people import service
from app.people.tokens import issue_token
from app.scheduling import requests
from app.scheduling.windows import WindowText
from tests.conftest import SECRET, make_settings
from tests.factories import make_user, make_world

BOOK = """mutation($input: BookInterviewInput!) { bookInterview(input: $input) {
  interview { id status } errors { code } } }"""
SLOTS_PER_RUN = 4
BOOKERS_PER_SLOT = 6  # 24 concurrent bookings per run


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def api_processes(database_url: str, clean_db: None) -> Iterator[list[str]]:
    """Two real `roundtable api` processes on the test database.

    On both backends: PostgreSQL relies on row locks and the EXCLUDE constraint, SQLite on
    BEGIN IMMEDIATE with a busy timeout; either must give one winner per conflict.
    """
    env = {**os.environ, "ROUNDTABLE_DATABASE_URL": database_url, "ROUNDTABLE_SECRET_KEY": SECRET}
    ports = [_free_port(), _free_port()]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "app.cli", "api", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url, proc in zip(urls, procs, strict=True):
            for _ in range(100):
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None:
                    raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "api died")
                time.sleep(0.1)
            else:
                raise RuntimeError(f"{url} did not start")
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)
            if proc.stderr is not None:
                proc.stderr.close()


@pytest.mark.parametrize("run", range(3))
async def test_concurrent_bookings_have_one_winner_per_conflict(
    api_processes: list[str], session: AsyncSession, run: int
) -> None:
    world = await make_world(session)
    shared = world.a.member  # every interview needs this member
    settings = make_settings("sqlite://")  # only the window rules are read from it
    now = datetime.now(UTC)
    day = (now + timedelta(days=2)).date().isoformat()
    windows = [
        WindowText(f"{day}T09:00", f"{day}T11:00"),
        WindowText(f"{day}T14:00", f"{day}T14:30"),
    ]
    bookings = []
    for slot in range(SLOTS_PER_RUN):
        start = datetime.fromisoformat(f"{day}T09:00").replace(tzinfo=UTC) + timedelta(
            minutes=30 * slot
        )
        for _ in range(BOOKERS_PER_SLOT):
            candidate = await make_user(session, Role.CANDIDATE)
            proposal = await service.create_proposal(
                session=session, project_id=world.a.project.id, candidate_id=candidate.id
            )
            interview = await requests.request_interview(
                session=session,
                viewer=await load_viewer(session, world.a.member),
                settings=settings,
                request=requests.InterviewRequest(
                    proposal_id=proposal.id,
                    time_zone="UTC",
                    windows=windows,
                    participant_ids=[shared.id],
                ),
                now=now,
            )
            token = await issue_token(session=session, user=candidate)
            bookings.append((slot, str(interview.id), start.isoformat(), token))
    await session.commit()

    async with httpx.AsyncClient(timeout=60) as http:

        async def attempt(
            index: int, interview_id: str, start: str, token: str
        ) -> tuple[int, dict[str, object]]:
            response = await http.post(
                f"{api_processes[index % 2]}/graphql",
                json={
                    "query": BOOK,
                    "variables": {
                        "input": {"interviewId": interview_id, "start": start, "timeZone": "UTC"}
                    },
                },
                headers={"Authorization": f"Bearer {token}"},
            )
            return response.status_code, response.json()

        results = await asyncio.gather(
            *(
                attempt(i, interview_id, start, token)
                for i, (_, interview_id, start, token) in enumerate(bookings)
            )
        )

    assert {status for status, _ in results} == {200}
    assert all("errors" not in body for _, body in results), [
        b for _, b in results if "errors" in b
    ]
    winners: Counter[int] = Counter()
    for (slot, *_), (_, body) in zip(bookings, results, strict=True):
        payload = body["data"]["bookInterview"]  # type: ignore[index]
        if payload["errors"]:
            assert payload["errors"] == [{"code": "SLOT_UNAVAILABLE"}], payload
        else:
            assert payload["interview"]["status"] == "BOOKED"
            winners[slot] += 1
    assert winners == dict.fromkeys(range(SLOTS_PER_RUN), 1)
    reserved = await session.scalar(
        select(func.count())
        .select_from(SlotReservation)
        .where(SlotReservation.user_id == shared.id)
    )
    assert reserved == SLOTS_PER_RUN
