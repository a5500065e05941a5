"""Input caps: lists, text length, control characters, echoed values, out-of-range instants."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.schema.loaders import Loaders
from tests.conftest import Clock, GraphQLClient, new_id
from tests.factories import World, make_interview, make_world
from tests.test_requests import REQUEST, ask, assert_rejected, request_input, written

ORG = "mutation($name: String!) { createOrganization(input: {name: $name}) { organization { name } errors { code field message } } }"
USER = """mutation($name: String!, $email: String!, $tz: String!) {
  createUser(input: {email: $email, name: $name, role: CANDIDATE, timeZone: $tz}) {
    user { name } errors { code field message } } }"""
PROJECT = """mutation($org: ID!, $title: String!, $am: ID!) {
  createProject(input: {organizationId: $org, title: $title, accountManagerId: $am}) {
    project { title } errors { code field message } } }"""
CANCEL = """mutation($id: ID!, $reason: String) {
  cancelInterview(input: {interviewId: $id, reason: $reason}) {
    interview { cancellation { reason } } errors { code field message } } }"""
ALTERNATIVE = """mutation($id: ID!, $message: String) {
  requestAlternativeTimes(input: {interviewId: $id, message: $message}) {
    interview { alternativeTimesMessage } errors { code field message } } }"""
BOOK = """mutation($id: ID!, $start: DateTime!) {
  bookInterview(input: {interviewId: $id, start: $start, timeZone: "UTC"}) {
    interview { id } errors { code field message } } }"""
MARK_READ = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { marked errors { code field message } } }"


@pytest.fixture
async def world(session: AsyncSession) -> World:
    return await make_world(session)


def windows(n: int) -> list[dict[str, str]]:
    """n windows of an hour on n days from 2026-03-04 (within 90 days of the test clock)."""
    days = [date(2026, 3, 4) + timedelta(days=i % 85) for i in range(n)]
    hours = [9 + i // 85 for i in range(n)]
    return [
        {"start": f"{d}T{h:02}:00", "end": f"{d}T{h:02}:45"}
        for d, h in zip(days, hours, strict=True)
    ]


def fields(result: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in result["errors"]]


async def test_windows_50_kept_51_to_100_get_the_rule_over_100_refused(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    assert (await ask(gql, world, windows=windows(50)))["errors"] == []
    for n in (51, 100):
        result = await assert_rejected(
            gql, world, session, "VALIDATION", "windows", windows=windows(n)
        )
        assert result["errors"][0]["message"] == "give at most 50 availability windows"
    result = await assert_rejected(
        gql, world, session, "VALIDATION", "windows", windows=windows(101)
    )
    assert result["errors"] == [
        {"code": "VALIDATION", "field": "windows", "message": "at most 100 items, not 101"}
    ]


async def test_participants_and_invite_emails_are_capped_at_50(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    ids = [new_id() for _ in range(51)]
    # 50 unknown ids pass the cap and reach the rule that they are not members.
    result = await assert_rejected(
        gql, world, session, "VALIDATION", "participantIds.49", participantIds=ids[:50]
    )
    assert ("VALIDATION", "participantIds") not in fields(result)
    result = await assert_rejected(
        gql, world, session, "VALIDATION", "participantIds", participantIds=ids
    )
    assert fields(result) == [("VALIDATION", "participantIds")]

    emails = [f"guest{i}@outside.example.com" for i in range(51)]
    assert (await ask(gql, world, inviteEmails=emails[:50]))["errors"] == []
    result = await assert_rejected(
        gql, world, session, "VALIDATION", "inviteEmails", inviteEmails=emails
    )
    assert result["errors"][0]["message"] == "at most 50 items, not 51"


async def test_ten_thousand_invite_emails_are_refused_without_a_write(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    emails = [f"g{i}@x.example.com" for i in range(10_000)]
    result = await assert_rejected(
        gql, world, session, "VALIDATION", "inviteEmails", inviteEmails=emails
    )
    assert len(result["errors"]) == 1


async def test_notification_ids_are_capped_and_never_reach_the_database(
    gql: GraphQLClient, world: World, count_queries: Any
) -> None:
    token = world.token(world.a.member)
    body = await gql(MARK_READ, {"ids": [new_id() for _ in range(100)]}, token=token)
    # 100 unknown ids pass the cap and each gets the rule's answer.
    result = body["data"]["markNotificationsRead"]
    assert {(e["code"], e["field"]) for e in result["errors"]} == {
        ("NOT_FOUND", f"ids.{i}") for i in range(100)
    }
    # Past PostgreSQL's 32,767 bind parameters: refused before any statement but the token's.
    with count_queries() as counted:
        body = await gql(MARK_READ, {"ids": [str(i) for i in range(40_000)]}, token=token)
    result = body["data"]["markNotificationsRead"]
    assert result["errors"] == [
        {"code": "VALIDATION", "field": "ids", "message": "at most 100 items, not 40,000"}
    ]
    assert not [s for s in counted.statements if "notifications" in s.lower()]


async def test_names_and_titles_are_refused_beyond_200_never_cut(
    gql: GraphQLClient, world: World
) -> None:
    token = world.token(world.admin)
    ok = await gql(ORG, {"name": "N" * 200}, token=token)
    assert ok["data"]["createOrganization"]["organization"] == {"name": "N" * 200}
    long = await gql(ORG, {"name": "N" * 201}, token=token)
    assert fields(long["data"]["createOrganization"]) == [("VALIDATION", "name")]

    user = {"email": "long@example.com", "tz": "UTC"}
    ok = await gql(USER, {**user, "name": "U" * 200}, token=token)
    assert ok["data"]["createUser"]["user"] == {"name": "U" * 200}
    long = await gql(USER, {**user, "email": "l2@example.com", "name": "U" * 201}, token=token)
    result = long["data"]["createUser"]
    assert result["user"] is None and fields(result) == [("VALIDATION", "name")]

    project = {"org": str(world.a.organization.id), "am": str(world.a.manager.id)}
    ok = await gql(PROJECT, {**project, "title": "T" * 200}, token=token)
    assert ok["data"]["createProject"]["project"] == {"title": "T" * 200}
    long = await gql(PROJECT, {**project, "title": "T" * 201}, token=token)
    assert fields(long["data"]["createProject"]) == [("VALIDATION", "title")]


async def test_control_characters_are_refused_in_every_text_input(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    admin = world.token(world.admin)
    for name in ("Acme\x00", "Acme\nInc", "Ac\x1bme"):
        body = await gql(ORG, {"name": name}, token=admin)
        assert fields(body["data"]["createOrganization"]) == [("VALIDATION", "name")]
    body = await gql(USER, {"email": "a\x00@example.com", "name": "A", "tz": "UTC"}, token=admin)
    assert ("VALIDATION", "email") in fields(body["data"]["createUser"])
    body = await gql(USER, {"email": "a@example.com", "name": "A", "tz": "UTC\x00"}, token=admin)
    assert fields(body["data"]["createUser"]) == [("VALIDATION", "timeZone")]
    await assert_rejected(
        gql, world, session, "VALIDATION", "inviteEmails.0", inviteEmails=["g\x07@x.example.com"]
    )
    bad_window = [{"start": "2026-03-10T09:00\x00", "end": "2026-03-10T10:00"}, windows(1)[0]]
    await assert_rejected(gql, world, session, "VALIDATION", "windows.0.start", windows=bad_window)
    body = await gql(MARK_READ, {"ids": ["\x00"]}, token=admin)
    assert fields(body["data"]["markNotificationsRead"]) == [("VALIDATION", "ids.0")]


async def test_reasons_and_messages_keep_line_breaks_and_are_capped_at_2000(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    interview = await make_interview(session, settings, world.a, clock.now)
    member, candidate = world.token(world.a.member), world.token(world.a.candidate)
    iid = str(interview.id)
    for message, expected in [
        ("M" * 2001, [("VALIDATION", "message")]),
        ("stop\x00", [("VALIDATION", "message")]),
        ("Line one\n\tline two", []),
    ]:
        body = await gql(ALTERNATIVE, {"id": iid, "message": message}, token=candidate)
        assert fields(body["data"]["requestAlternativeTimes"]) == expected
    for reason, expected in [
        ("R" * 2001, [("VALIDATION", "reason")]),
        ("x\x00", [("VALIDATION", "reason")]),
    ]:
        body = await gql(CANCEL, {"id": iid, "reason": reason}, token=member)
        assert fields(body["data"]["cancelInterview"]) == expected
    body = await gql(CANCEL, {"id": iid, "reason": "R" * 1999 + "\n"}, token=member)
    assert body["data"]["cancelInterview"]["interview"]["cancellation"]["reason"] == "R" * 1999


async def test_errors_echo_only_a_short_prefix_of_the_bad_value(
    gql: GraphQLClient, world: World
) -> None:
    admin = world.token(world.admin)
    huge = "x" * 1_999  # within the length cap: the rule's own message is what is shown
    body = await gql(USER, {"email": huge + "@", "name": "A", "tz": huge}, token=admin)
    errors = body["data"]["createUser"]["errors"]
    assert {e["field"] for e in errors} == {"email", "timeZone"}
    assert all(len(e["message"]) < 200 for e in errors), errors
    body = await gql(
        USER, {"email": "a@example.com", "name": "A", "tz": "y" * 500_000}, token=admin
    )
    assert len(str(body)) < 1000


@pytest.mark.parametrize(
    "start", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1969-12-31T23:00:00Z"]
)
async def test_instants_near_year_1_or_9999_are_validation_errors(
    gql: GraphQLClient,
    world: World,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    start: str,
) -> None:
    interview = await make_interview(session, settings, world.a, clock.now)
    body = await gql(
        BOOK, {"id": str(interview.id), "start": start}, token=world.token(world.a.candidate)
    )
    assert fields(body["data"]["bookInterview"]) == [("VALIDATION", "start")]
    local = start[:16].replace("Z", "")
    window = [{"start": local, "end": local}, windows(1)[0]]
    before = await written(session)
    body = await gql(
        REQUEST, {"input": request_input(world, windows=window)}, token=world.token(world.a.member)
    )
    result = body["data"]["requestInterview"]
    assert ("VALIDATION", "windows.0.start") in fields(result)
    assert await written(session) == before


async def test_loaders_never_send_more_than_a_thousand_keys_a_query(
    session: AsyncSession, count_queries: Any
) -> None:
    # Past PostgreSQL's 32,767 bind parameters in one IN list, were the keys not split.
    loaders = Loaders(session, asyncio.Lock())
    keys = [uuid.uuid4() for _ in range(40_000)]
    with count_queries() as counted:
        found = await loaders.user_by_id.load_many(keys)
    assert found == [None] * 40_000
    assert len(counted.statements) == 40
