"""Mail links: what a link token reaches through the API, and when it stops working."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.links.tokens import BadLink, read_link, sign_link
from app.models import LinkGrant, LinkScope
from tests.conftest import SECRET, Clock
from tests.factories import World, book_first_slot, make_interview, make_world

GUEST = "guest@outside.example"
INTERVIEW = """query($id: ID!) { interview(id: $id) { id round status
  proposal { project { title organization { name } accountManager { email } } } } }"""
SLOTS = """query($id: ID!) { availableSlots(interviewId: $id, timeZone: "UTC") {
  days { date } } }"""
ACCESS = "{ linkAccess { scope actions email user { id } interview { id } } }"
UPDATE_ME = """mutation($input: UpdateMeInput!) { updateMe(input: $input) {
  user { name timeZone } errors { code message field } } }"""
BOOK = """mutation($input: BookInterviewInput!) { bookInterview(input: $input) {
  interview { status } errors { code message field } } }"""
HIRE = """mutation($id: ID!) { hireCandidate(proposalId: $id) { errors { code } } }"""
CANCEL = """mutation($id: ID!) { cancelInterview(input: {interviewId: $id}) {
  errors { code message } } }"""


async def post(client: httpx.AsyncClient, query: str, variables: Any = None, **headers: str) -> Any:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200
    return response.json()


async def token_for(
    session: AsyncSession, interview_id: uuid.UUID, email: str, *, expires_at: datetime
) -> str:
    grant = await session.scalar(
        select(LinkGrant)
        .where(LinkGrant.interview_id == interview_id, LinkGrant.email == email)
        .order_by(LinkGrant.created_at.desc())
        .limit(1)
    )
    await session.commit()
    assert grant is not None, f"no link was granted to {email}"
    return sign_link(secret_key=SECRET, grant_id=grant.id, expires_at=expires_at)


def link(token: str) -> dict[str, str]:
    return {"X-Roundtable-Link": token}


def test_any_changed_character_breaks_the_signature() -> None:
    token = sign_link(
        secret_key=SECRET,
        grant_id=uuid.uuid4(),
        expires_at=datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert read_link(secret_key=SECRET, token=token)
    for position, char in enumerate(token):
        if char == ".":
            continue
        for other in "AB_-":
            if other != char:
                changed = token[:position] + other + token[position + 1 :]
                with pytest.raises(BadLink):
                    read_link(secret_key=SECRET, token=changed)
                break
    with pytest.raises(BadLink):
        read_link(secret_key="another-secret-" + "y" * 32, token=token)
    for junk in ["", ".", "a.b", "x" * 500, token + "."]:
        with pytest.raises(BadLink):
            read_link(secret_key=SECRET, token=junk)


@pytest.fixture
async def world(session: AsyncSession) -> World:
    return await make_world(session)


async def test_a_candidate_link_reaches_its_interview_and_nothing_else(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, clock: Clock, world: World
) -> None:
    ours = await make_interview(session, settings, world.a, clock.now)
    theirs = await make_interview(session, settings, world.b, clock.now)
    token = await token_for(
        session, ours.id, world.a.candidate.email, expires_at=clock.now + timedelta(days=1)
    )

    access = await post(client, ACCESS, **link(token))
    assert access["data"]["linkAccess"]["scope"] == "CANDIDATE"
    assert access["data"]["linkAccess"]["user"] == {"id": str(world.a.candidate.id)}
    assert set(access["data"]["linkAccess"]["actions"]) >= {"BOOK", "CANCEL", "LIST_SLOTS"}
    own = await post(client, INTERVIEW, {"id": str(ours.id)}, **link(token))
    assert own["data"]["interview"]["proposal"]["project"] == {
        "title": "Project A",
        "organization": {"name": "Org A"},
        "accountManager": {"email": world.a.manager.email},
    }
    assert (await post(client, SLOTS, {"id": str(ours.id)}, **link(token)))["data"]

    # Another interview reads as absent; other fields are refused before anything runs.
    other = await post(client, INTERVIEW, {"id": str(theirs.id)}, **link(token))
    assert other == {"data": {"interview": None}}
    slots = await post(client, SLOTS, {"id": str(theirs.id)}, **link(token))
    assert slots["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    for query in [
        "{ me { id } }",
        "{ myApplications { actionRequired } }",
        "{ __schema { types { name } } }",
        f'{{ interview(id: "{ours.id}") {{ proposal {{ interviews {{ id }} }} }} }}',
        f'{{ interview(id: "{ours.id}") {{ participants {{ email }} }} }}',
        f'{{ interview(id: "{ours.id}") {{ proposal {{ candidate {{ calendarConnections {{ id }} }} }} }} }}',
    ]:
        # Validated documents are remembered (app.schema.validation): one that passed for a
        # member's token must still be refused through a link.
        member = {"Authorization": f"Bearer {world.token(world.a.member)}"}
        assert "cannot be reached" not in str(await post(client, query, **member)), query
        refused = await post(client, query, **link(token))
        assert refused.get("data") is None, query
        assert "cannot be reached with a mail link" in refused["errors"][0]["message"], query


async def test_a_view_link_views_and_acts_on_nothing(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, clock: Clock, world: World
) -> None:
    interview = await make_interview(session, settings, world.a, clock.now, invite_emails=[GUEST])
    token = await token_for(session, interview.id, GUEST, expires_at=clock.now + timedelta(days=1))
    access = await post(client, ACCESS, **link(token))
    assert access["data"]["linkAccess"] == {
        "scope": "VIEWER",
        "actions": ["VIEW"],
        "email": GUEST,
        "user": None,
        "interview": {"id": str(interview.id)},
    }
    assert (await post(client, INTERVIEW, {"id": str(interview.id)}, **link(token)))["data"][
        "interview"
    ]["round"] == 1
    slots = await post(client, SLOTS, {"id": str(interview.id)}, **link(token))
    assert slots["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    book = await post(
        client,
        BOOK,
        {
            "input": {
                "interviewId": str(interview.id),
                "start": "2026-03-05T14:00:00+00:00",
                "timeZone": "UTC",
            }
        },
        **link(token),
    )
    assert book["data"]["bookInterview"]["errors"][0]["code"] == "FORBIDDEN"
    update = await post(client, UPDATE_ME, {"input": {"timeZone": "UTC"}}, **link(token))
    assert update["data"]["updateMe"]["errors"][0]["code"] == "FORBIDDEN"


async def test_update_me_changes_own_name_and_zone_and_a_link_only_the_zone(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, clock: Clock, world: World
) -> None:
    bearer = {"Authorization": f"Bearer {world.token(world.a.member)}"}
    changed = await post(
        client, UPDATE_ME, {"input": {"name": " Ada L. ", "timeZone": "Europe/Paris"}}, **bearer
    )
    assert changed["data"]["updateMe"] == {
        "user": {"name": "Ada L.", "timeZone": "Europe/Paris"},
        "errors": [],
    }
    bad = await post(
        client, UPDATE_ME, {"input": {"name": "  ", "timeZone": "Mars/Base"}}, **bearer
    )
    assert {e["field"] for e in bad["data"]["updateMe"]["errors"]} == {"name", "timeZone"}
    # Past an input cap the input is refused as a whole, before any rule runs.
    long = await post(
        client, UPDATE_ME, {"input": {"name": "x" * 201, "timeZone": "Mars/Base"}}, **bearer
    )
    assert {e["field"] for e in long["data"]["updateMe"]["errors"]} == {"name"}
    assert (await post(client, "{ me { name timeZone } }", **bearer))["data"]["me"] == {
        "name": "Ada L.",
        "timeZone": "Europe/Paris",
    }

    interview = await make_interview(session, settings, world.a, clock.now)
    token = await token_for(
        session, interview.id, world.a.candidate.email, expires_at=clock.now + timedelta(days=1)
    )
    zone = await post(client, UPDATE_ME, {"input": {"timeZone": "America/Chicago"}}, **link(token))
    assert zone["data"]["updateMe"]["user"]["timeZone"] == "America/Chicago"
    name = await post(client, UPDATE_ME, {"input": {"name": "Mallory"}}, **link(token))
    assert name["data"]["updateMe"]["errors"][0] == {
        "code": "FORBIDDEN",
        "message": "a mail link can change the time zone only",
        "field": "name",
    }


async def test_links_are_revoked_by_a_new_round_a_cancellation_and_a_hire(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, clock: Clock, world: World
) -> None:
    later = clock.now + timedelta(days=1)
    first = await make_interview(session, settings, world.a, clock.now)
    first_token = await token_for(session, first.id, world.a.candidate.email, expires_at=later)
    second = await make_interview(session, settings, world.a, clock.now)  # a new round
    page = await client.get(f"/links/{first_token}")
    assert page.status_code == 410 and "There is a newer round" in page.text
    refused = await post(client, ACCESS, **link(first_token))
    assert refused["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED", "link": "REVOKED"}

    # The page hands out the candidate's own link to the new round, which works.
    new_link = page.text.split('class="button" href="')[1].split('"')[0]
    assert (await client.get(new_link.replace(settings.public_url, ""))).status_code == 200

    second_token = await token_for(session, second.id, world.a.candidate.email, expires_at=later)
    assert (await client.get(f"/links/{second_token}")).status_code == 200
    hired = await post(
        client,
        HIRE,
        {"id": str(world.a.proposal.id)},
        Authorization=f"Bearer {world.token(world.a.member)}",
    )
    assert hired["data"]["hireCandidate"]["errors"] == []
    page = await client.get(f"/links/{second_token}")
    assert page.status_code == 410 and "You were hired" in page.text
    grants = list(
        await session.scalars(select(LinkGrant).where(LinkGrant.interview_id == second.id))
    )
    await session.commit()
    assert grants and all(g.revoked_reason == "HIRED" for g in grants)

    booked = await make_interview(session, settings, world.b, clock.now)
    await book_first_slot(session, settings, world.b, booked, clock.now)
    token = await token_for(session, booked.id, world.b.candidate.email, expires_at=later)
    cancel = await post(client, CANCEL, {"id": str(booked.id)}, **link(token))
    assert cancel["data"]["cancelInterview"]["errors"] == []
    page = await client.get(f"/links/{token}")
    assert page.status_code == 410 and "This interview was cancelled" in page.text


async def test_a_new_round_keeps_the_links_of_a_booking_still_to_come(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, clock: Clock, world: World
) -> None:
    first = await make_interview(session, settings, world.a, clock.now)
    await book_first_slot(session, settings, world.a, first, clock.now)
    token = await token_for(
        session, first.id, world.a.candidate.email, expires_at=clock.now + timedelta(days=30)
    )
    await make_interview(session, settings, world.a, clock.now)
    assert (await client.get(f"/links/{token}")).status_code == 200
    clock.now += timedelta(days=10)  # after the booked slot: what took place
    page = await client.get(f"/links/{token}")
    assert page.status_code == 200 and "This interview has taken place" in page.text


async def test_link_pages_send_no_referrer_are_not_cached_and_run_no_inline_script(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, clock: Clock, world: World
) -> None:
    interview = await make_interview(session, settings, world.a, clock.now)
    token = await token_for(
        session, interview.id, world.a.candidate.email, expires_at=clock.now + timedelta(days=1)
    )
    for path in [f"/links/{token}", "/links/nonsense", f"/interviews/{interview.id}"]:
        page = await client.get(path)
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "<script>" not in page.text
    assert (await client.get("/links/nonsense")).status_code == 404
    old = await client.get(f"/interviews/{interview.id}")
    assert old.status_code == 410 and "older email" in old.text
    assert (await client.get("/static/booking.js")).status_code == 200


async def test_grants_are_scoped_by_who_reads_the_mail(
    session: AsyncSession, settings: Settings, clock: Clock, world: World
) -> None:
    interview = await make_interview(session, settings, world.a, clock.now, invite_emails=[GUEST])
    grants = {
        g.email: g.scope
        for g in await session.scalars(
            select(LinkGrant).where(LinkGrant.interview_id == interview.id)
        )
    }
    await session.commit()
    assert grants == {
        world.a.candidate.email: LinkScope.CANDIDATE,
        world.a.member.email: LinkScope.VIEWER,
        GUEST: LinkScope.VIEWER,
        world.a.manager.email: LinkScope.VIEWER,
    }


async def test_a_link_costs_one_statement_to_check_and_its_page_two(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    world: World,
    count_queries: Any,
) -> None:
    interview = await make_interview(session, settings, world.a, clock.now)
    token = await token_for(
        session, interview.id, world.a.candidate.email, expires_at=clock.now + timedelta(days=1)
    )
    with count_queries() as api:
        body = await post(client, "{ linkAccess { scope interview { round } } }", **link(token))
    assert body["data"]["linkAccess"] == {"scope": "CANDIDATE", "interview": {"round": 1}}
    assert api.count == 2  # the grant with its user, then the interview
    with count_queries() as page:
        assert (await client.get(f"/links/{token}")).status_code == 200
    assert page.count == 2  # the grant with its user, then interview, project, org, manager
    with count_queries() as forged:
        assert (await client.get(f"/links/{token[:-2]}xx")).status_code == 404
    assert forged.count == 0, "a bad signature is refused without touching the database"
