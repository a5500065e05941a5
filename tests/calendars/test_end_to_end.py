"""Per provider, through the API: connect by OAuth, book, sync; cancel; reschedule and book.

The sync actor is not wired yet, so the tests run `sync_interview` where the worker will.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.calendars.sync import sync_interview
from app.config import Settings
from app.db import create_session_factory
from app.models import CalendarProvider
from tests.calendars.conftest import Fakes
from tests.calendars.test_oauth import consent, fake_of, start_connect
from tests.conftest import Clock, GraphQLClient
from tests.factories import World, make_interview, make_world
from tests.fakes import google, microsoft

SLOTS = """query($id: ID!) { availableSlots(interviewId: $id, timeZone: "UTC") {
  days { slots { start end } } } }"""
BOOK = """mutation($input: BookInterviewInput!) { bookInterview(input: $input) {
  interview { id status } errors { code message } } }"""
INTERVIEW = """query($id: ID!) { interview(id: $id) {
  status conference { url } participants { email syncState } } }"""
CANCEL = """mutation($input: CancelInterviewInput!) { cancelInterview(input: $input) {
  errors { code message } } }"""
RESCHEDULE = """mutation($input: RescheduleInterviewInput!) { rescheduleInterview(input: $input) {
  interview { id } errors { code message } } }"""

LINKS = {CalendarProvider.GOOGLE: "meet.google.com", CalendarProvider.MICROSOFT: "teams"}


def times(provider: CalendarProvider, event: dict[str, Any]) -> tuple[datetime, datetime]:
    if provider is CalendarProvider.GOOGLE:
        return google.parse_time(event["start"]), google.parse_time(event["end"])
    return microsoft.parse_dtz(event["start"]), microsoft.parse_dtz(event["end"])


async def book_first(gql: GraphQLClient, world: World, interview_id: str) -> tuple[str, str]:
    slots = await gql(SLOTS, {"id": interview_id}, token=world.token(world.a.candidate))
    slot = slots["data"]["availableSlots"]["days"][0]["slots"][0]
    body = await gql(
        BOOK,
        {"input": {"interviewId": interview_id, "start": slot["start"], "timeZone": "UTC"}},
        token=world.token(world.a.candidate),
    )
    assert body["data"]["bookInterview"]["errors"] == []
    return slot["start"], slot["end"]


@pytest.mark.parametrize(
    "provider", [CalendarProvider.GOOGLE, CalendarProvider.MICROSOFT], ids=str.lower
)
async def test_connect_book_cancel_reschedule(
    provider: CalendarProvider,
    session: AsyncSession,
    engine: AsyncEngine,
    gql: GraphQLClient,
    client: httpx.AsyncClient,
    fakes: Fakes,
    settings: Settings,
    clock: Clock,
) -> None:
    world = await make_world(session)
    member, colleague = world.a.member, world.a.colleague
    for person in (member, colleague):
        params = await start_connect(gql, world.token(person), provider)
        assert (await consent(client, fakes, provider, params, person.email)).status_code == 200
    interview = await make_interview(
        session, settings, world.a, clock.now, participants=[member, colleague]
    )
    fake = fake_of(fakes, provider)

    async def sync(interview_id: str) -> None:
        result = await sync_interview(
            sessions=create_session_factory(engine),
            settings=settings,
            interview_id=uuid.UUID(interview_id),
            clock=clock,
        )
        assert (result.pending, result.failed) == (0, 0), result.errors

    # Book: one event per connected member, at the booked time, with the conference link.
    start, end = await book_first(gql, world, str(interview.id))
    await sync(str(interview.id))
    shown = await gql(INTERVIEW, {"id": str(interview.id)}, token=world.token(member))
    link = shown["data"]["interview"]["conference"]["url"]
    assert LINKS[provider] in link
    assert {p["syncState"] for p in shown["data"]["interview"]["participants"]} == {"SYNCED"}
    for person in (member, colleague):
        [event] = fake.events(person.email)
        assert times(provider, event) == (
            datetime.fromisoformat(start),
            datetime.fromisoformat(end),
        )
    [theirs] = fake.events(colleague.email)
    assert link in str(theirs.get("description") or theirs.get("body"))

    # Reschedule: the old events go, the new interview lands once booked.
    moved = await gql(
        RESCHEDULE,
        {
            "input": {
                "interviewId": str(interview.id),
                "timeZone": "UTC",
                "windows": [
                    {"start": "2026-03-09T09:00", "end": "2026-03-09T10:00"},
                    {"start": "2026-03-10T09:00", "end": "2026-03-10T10:00"},
                ],
            }
        },
        token=world.token(member),
    )
    new_id = moved["data"]["rescheduleInterview"]["interview"]["id"]
    await sync(str(interview.id))
    assert fake.events(member.email) == [] and fake.events(colleague.email) == []
    new_start, _ = await book_first(gql, world, new_id)
    await sync(new_id)
    for person in (member, colleague):
        [event] = fake.events(person.email)
        assert times(provider, event)[0] == datetime.fromisoformat(new_start)

    # Cancel: gone from every calendar.
    cancelled = await gql(
        CANCEL, {"input": {"interviewId": new_id, "reason": "hired"}}, token=world.token(member)
    )
    assert cancelled["data"]["cancelInterview"]["errors"] == []
    await sync(new_id)
    assert fake.events(member.email) == [] and fake.events(colleague.email) == []
