"""Load limits and moves under concurrent requests on two API processes (PostgreSQL).

Like double booking (tests/test_booking_concurrency.py): the members' rows are locked before
the last check, so a member's last interview of the day goes to one booker, and one slot to
one mover, never both, never a 5xx.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import load_viewer
from app.models import Role, SlotReservation, User
from app.people import service
from app.people.tokens import issue_token
from app.scheduling import booking, requests
from app.scheduling.windows import WindowText
from tests.conftest import make_settings
from tests.factories import make_user, make_world
from tests.test_booking_concurrency import api_processes  # noqa: F401  (the fixture)

BOOK = """mutation($input: BookInterviewInput!) { bookInterview(input: $input) {
  interview { id status } errors { code } } }"""
MOVE = """mutation($input: MoveBookingInput!) { moveBooking(input: $input) {
  interview { id bookedStart } errors { code } } }"""
PEOPLE = 8


@pytest.fixture
def postgres_api(backend: str, request: pytest.FixtureRequest) -> Iterator[list[str]]:
    if backend != "postgres":
        pytest.skip("the guarantee under test is PostgreSQL's row locks (SQLite: one writer)")
    yield request.getfixturevalue("api_processes")


async def _interviews(session: AsyncSession, member: User, world: Any, day: str) -> list[Any]:
    """PEOPLE candidates, each with an interview of the shared member: [(interview, token)]."""
    settings = make_settings("sqlite://")  # only the window rules are read from it
    now = datetime.now(UTC)
    windows = [
        WindowText(f"{day}T09:00", f"{day}T13:00"),
        WindowText(f"{day}T14:00", f"{day}T14:30"),
    ]
    made = []
    for _ in range(PEOPLE):
        candidate = await make_user(session, Role.CANDIDATE)
        proposal = await service.create_proposal(
            session=session, project_id=world.a.project.id, candidate_id=candidate.id
        )
        interview = await requests.request_interview(
            session=session,
            viewer=await load_viewer(session, member),
            settings=settings,
            request=requests.InterviewRequest(
                proposal_id=proposal.id,
                time_zone="UTC",
                windows=windows,
                participant_ids=[member.id],
            ),
            now=now,
        )
        token = (await issue_token(session=session, user=candidate)).token
        made.append((interview, token, candidate))
    await session.commit()
    return made


async def _send(
    urls: list[str], calls: list[tuple[str, dict[str, Any], str]]
) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=60) as http:

        async def one(index: int, query: str, variables: dict[str, Any], token: str) -> Any:
            response = await http.post(
                f"{urls[index % 2]}/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert "errors" not in body, body
            return body["data"]

        return list(await asyncio.gather(*(one(i, *call) for i, call in enumerate(calls))))


async def test_concurrent_bookings_and_moves(
    postgres_api: list[str], session: AsyncSession
) -> None:
    """One pair of API processes for both checks: starting them is the slow part."""
    world = await make_world(session)
    await _bookings_never_pass_a_daily_limit(postgres_api, session, world)
    await _moves_to_one_slot_have_one_winner_and_the_rest_stay(postgres_api, session, world)


async def _bookings_never_pass_a_daily_limit(
    postgres_api: list[str], session: AsyncSession, world: Any
) -> None:
    member = world.a.member
    member.max_interviews_per_day = 2
    day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    made = await _interviews(session, member, world, day)
    start = datetime.fromisoformat(f"{day}T09:00").replace(tzinfo=UTC)
    calls = [
        (
            BOOK,
            {
                "input": {
                    "interviewId": str(interview.id),
                    "timeZone": "UTC",
                    "start": (start + timedelta(minutes=30 * i)).isoformat(),
                }
            },
            token,
        )
        for i, (interview, token, _) in enumerate(made)
    ]
    results = await _send(postgres_api, calls)
    codes = sorted(
        "BOOKED" if not r["bookInterview"]["errors"] else r["bookInterview"]["errors"][0]["code"]
        for r in results
    )
    assert codes == ["BOOKED"] * 2 + ["SLOT_UNAVAILABLE"] * (PEOPLE - 2)
    held = await session.scalars(
        select(SlotReservation).where(SlotReservation.user_id == member.id)
    )
    assert len(list(held)) == 2


async def _moves_to_one_slot_have_one_winner_and_the_rest_stay(
    postgres_api: list[str], session: AsyncSession, world: Any
) -> None:
    member = world.a.colleague  # no limit; its own day
    day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    made = await _interviews(session, member, world, day)
    start = datetime.fromisoformat(f"{day}T09:00").replace(tzinfo=UTC)
    settings = make_settings("sqlite://", min_notice_minutes=0)
    for i, (interview, _, candidate) in enumerate(made):
        viewer = await load_viewer(session, candidate)
        calendars = await booking.ask_member_calendars(
            session=session, viewer=viewer, settings=settings, interview_id=interview.id
        )
        await booking.book_slot(
            session=session,
            viewer=viewer,
            settings=settings,
            interview_id=interview.id,
            start=start + timedelta(minutes=30 * i),
            time_zone="UTC",
            now=datetime.now(UTC),
            calendars=calendars,
        )
    await session.commit()
    target = datetime.fromisoformat(f"{day}T14:00").replace(tzinfo=UTC).isoformat()
    calls = [
        (
            MOVE,
            {"input": {"interviewId": str(interview.id), "timeZone": "UTC", "start": target}},
            token,
        )
        for interview, token, _ in made
    ]
    results = await _send(postgres_api, calls)
    winners = [r for r in results if not r["moveBooking"]["errors"]]
    assert len(winners) == 1
    assert {r["moveBooking"]["errors"][0]["code"] for r in results if r not in winners} == {
        "SLOT_UNAVAILABLE"
    }
    held = sorted(
        r.starts_at
        for r in await session.scalars(
            select(SlotReservation).where(SlotReservation.user_id == member.id)
        )
    )
    assert len(held) == PEOPLE and len(set(held)) == PEOPLE  # the losers kept their own slot
    assert datetime.fromisoformat(target) in held
