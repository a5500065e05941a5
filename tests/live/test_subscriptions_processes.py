"""Subscriptions across two `roundtable api` processes on PostgreSQL (LISTEN/NOTIFY)."""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import utcnow
from tests.conftest import SECRET, make_settings
from tests.factories import make_interview, make_world
from tests.live.wsclient import closed_with, connected
from tests.workers.conftest import NEVER_HOURS, eventually
from tests.workers.smtp import free_port
from tests.workers.test_production_shape import ROUNDTABLE, Processes, answers

CHANGED = """subscription($id: ID) { interviewChanged(interviewId: $id) {
  id status bookedStart participants { email syncState } } }"""
NOTIFIED = "subscription { notificationAdded { id kind message } }"
SLOTS = """query($id: ID!) { availableSlots(interviewId: $id, timeZone: "UTC") {
  days { slots { start } } } }"""
BOOK = """mutation($input: BookInterviewInput!) { bookInterview(input: $input) {
  interview { id status } errors { code message } } }"""
ALTERNATIVE = """mutation($id: ID!) { requestAlternativeTimes(input: {interviewId: $id}) {
  errors { code } } }"""


@pytest.fixture
def processes(tmp_path: Any) -> Any:
    running = Processes(tmp_path)
    yield running
    running.stop_all()


async def start_apis(database_url: str, processes: Processes, tmp_path: Any) -> tuple[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUNDTABLE_")}
    env.update(
        ROUNDTABLE_DATABASE_URL=database_url,
        ROUNDTABLE_SECRET_KEY=SECRET,
        ROUNDTABLE_MAIL_DIR=str(tmp_path / "mail"),
        ROUNDTABLE_REMINDER_AFTER_HOURS=str(NEVER_HOURS),
        ROUNDTABLE_CALENDAR_RECONCILE_MINUTES="0",
        ROUNDTABLE_RATE_LIMITS="off",
    )
    ports = free_port(), free_port()
    for name, port in zip(("api1", "api2"), ports, strict=True):
        processes.start(name, [*ROUNDTABLE, "api", "--port", str(port)], env)
    bases = tuple(f"127.0.0.1:{port}" for port in ports)
    for base in bases:
        await eventually(
            lambda base=base: answers(f"http://{base}/livez"),  # type: ignore[misc]
            what=f"{base} up",
            deadline_seconds=60,
        )
    return bases[0], bases[1]


async def post(base: str, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=20) as http:
        answer = await http.post(
            f"http://{base}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    body: dict[str, Any] = answer.json()
    assert "errors" not in body, body
    return body["data"]


@pytest.mark.postgres_only
async def test_a_booking_through_one_api_reaches_subscribers_of_the_other(
    database_url: str, session: AsyncSession, processes: Processes, tmp_path: Any
) -> None:
    first, second = await start_apis(database_url, processes, tmp_path)
    world = await make_world(session)
    settings = make_settings(database_url)
    interview = await make_interview(session, settings, world.a, utcnow())
    other = await make_interview(session, settings, world.b, utcnow())
    bearer = lambda user: {"Authorization": f"Bearer {world.token(user)}"}  # noqa: E731
    url = f"ws://{second}/graphql"

    async with (
        connected(url, bearer(world.a.member)) as member,
        connected(url, bearer(world.a.candidate)) as candidate,
        connected(url, bearer(world.b.member)) as outsider,
    ):
        for subscriber in (member, candidate, outsider):
            assert (await subscriber.receive())["type"] == "connection_ack"
        watching = await member.subscribe(CHANGED, {"id": str(interview.id)})
        notes = await candidate.subscribe(NOTIFIED)
        everything = await outsider.subscribe(CHANGED, {"id": None})
        for subscriber in (member, candidate, outsider):
            await subscriber.round_trip()  # the subscriptions are registered

        # When the candidate books through the first API
        days = await post(first, SLOTS, {"id": str(interview.id)}, world.token(world.a.candidate))
        start = days["availableSlots"]["days"][0]["slots"][0]["start"]
        sent = time.monotonic()
        booked = await post(
            first,
            BOOK,
            {"input": {"interviewId": str(interview.id), "start": start, "timeZone": "UTC"}},
            world.token(world.a.candidate),
        )
        assert booked["bookInterview"]["errors"] == []

        # Then the team member subscribed on the second API hears of it
        message = await member.receive()
        latency = time.monotonic() - sent
        assert message["id"] == watching and message["type"] == "next", message
        change = message["payload"]["data"]["interviewChanged"]
        assert change["id"] == str(interview.id) and change["status"] == "BOOKED"
        print(f"booking to subscriber on the other process: {latency * 1000:.0f} ms")

        # ... and of what the worker does next: the invites mailed, the sync states set
        while any(p["syncState"] != "SYNCED" for p in change["participants"]):
            message = await member.receive()
            change = message["payload"]["data"]["interviewChanged"]

        # ... the candidate gets the notification of it
        note = await candidate.receive()
        assert note["id"] == notes
        assert note["payload"]["data"]["notificationAdded"]["kind"] == "INTERVIEW_BOOKED"

        # ... and the other organization's member, subscribed to everything they may see,
        # hears nothing of it: the first thing they hear is their own interview's change
        await post(first, ALTERNATIVE, {"id": str(other.id)}, world.token(world.b.candidate))
        heard = await outsider.receive()
        assert heard["id"] == everything
        assert heard["payload"]["data"]["interviewChanged"]["id"] == str(other.id)


@pytest.mark.postgres_only
async def test_connection_init_without_a_valid_token_is_refused(
    database_url: str, session: AsyncSession, processes: Processes, tmp_path: Any
) -> None:
    first, _ = await start_apis(database_url, processes, tmp_path)
    world = await make_world(session)
    url = f"ws://{first}/graphql"
    assert await closed_with(url, None) == 4403
    assert await closed_with(url, {"Authorization": "Bearer rt_not-a-token"}) == 4403
    assert await closed_with(url, {"token": "garbage"}) == 4403
    good = {"Authorization": f"Bearer {world.token(world.a.member)}"}
    assert await closed_with(url, good) is None


async def test_subscriptions_are_not_served_over_http(session: AsyncSession, gql: Any) -> None:
    world = await make_world(session)
    token = world.token(world.a.member)
    body = await gql("subscription { notificationAdded { id } }", token=token)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
