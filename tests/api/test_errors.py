"""Client mistakes are shown with a code and logged quietly; bugs are masked; outages are 503."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from app.main import create_app
from app.scheduling import listing
from tests.conftest import GraphQLClient, make_settings
from tests.factories import make_world

BOOK = """mutation($input: BookInterviewInput!) {
  bookInterview(input: $input) { interview { id } errors { code } }
}"""
MY_INTERVIEWS = """query($group: InterviewGroup!) {
  myInterviews(group: $group) { edges { node { id } } }
}"""


async def test_a_bad_datetime_variable_is_a_client_error_with_code_and_location(
    gql: GraphQLClient, session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    world = await make_world(session)
    variables = {"input": {"interviewId": "x", "start": "next tuesday", "timeZone": "UTC"}}
    with caplog.at_level(logging.INFO):
        body = await gql(BOOK, variables, token=world.token(world.a.candidate))
    [error] = body["errors"]
    assert error["message"] != "Unexpected error."
    assert "$input" in error["message"] and "start" in error["message"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.start"}
    assert error["locations"] == [{"line": 1, "column": 10}]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    logged = [r for r in caplog.records if r.name == "app.graphql"]
    assert logged and all(r.levelno == logging.INFO and r.exc_info is None for r in logged)


async def test_an_unknown_enum_value_in_variables_is_a_client_error(
    gql: GraphQLClient, session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    world = await make_world(session)
    with caplog.at_level(logging.INFO):
        body = await gql(MY_INTERVIEWS, {"group": "SOON"}, token=world.token(world.a.member))
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "group"}
    assert "SOON" in error["message"]
    assert error["locations"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_syntax_and_validation_errors_have_codes(
    gql: GraphQLClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    token = world.token(world.a.member)
    syntax = await gql("{ me { id }", token=token)
    assert syntax["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    unknown = await gql("{ me { shoeSize } }", token=token)
    assert unknown["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_an_unexpected_exception_is_masked_and_logged_with_its_context(
    gql: GraphQLClient,
    session: AsyncSession,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = await make_world(session)

    async def broken(**_: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(listing, "my_interviews", broken)
    with caplog.at_level(logging.INFO):
        body = await gql(MY_INTERVIEWS, {"group": "PENDING"}, token=world.token(world.a.member))
    [error] = body["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert error["path"] == ["myInterviews"]
    assert "secret" not in str(body)
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.exc_info is not None
    assert "path=myInterviews" in record.getMessage()
    assert f"viewer={world.a.member.id}" in record.getMessage()


async def test_a_database_failure_during_execution_answers_503_as_graphql(
    client: httpx.AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await make_world(session)

    async def down(**_: Any) -> Any:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "refused"))

    monkeypatch.setattr(listing, "my_interviews", down)
    response = await client.post(
        "/graphql",
        json={"query": MY_INTERVIEWS, "variables": {"group": "PENDING"}},
        headers={"Authorization": f"Bearer {world.token(world.a.member)}"},
    )
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"


async def test_an_unreachable_database_answers_503_as_graphql() -> None:
    # Nothing listens on port 1: authentication fails to connect before execution begins.
    settings = make_settings("postgresql://postgres@127.0.0.1:1/roundtable")
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://rt.test") as http:
        response = await http.post(
            "/graphql", json={"query": "{ me { id } }"}, headers={"Authorization": "Bearer rt_x"}
        )
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert response.headers["retry-after"]


def test_network_errors_count_as_database_outages_only_when_the_database_raised_them() -> None:
    from app.schema.reporting import is_database_outage

    def refuse() -> None:
        raise ConnectionRefusedError(111, "refused by an SMTP server")

    try:
        refuse()
    except ConnectionRefusedError as exc:
        assert not is_database_outage(exc)
    assert is_database_outage(OperationalError("SELECT 1", {}, Exception("gone")))


async def test_a_missing_field_inside_a_list_variable_names_its_place(
    gql: GraphQLClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    query = "mutation($input: RequestInterviewInput!) { requestInterview(input: $input) { errors { code } } }"
    windows = [
        {"start": "2026-03-10T09:00", "end": "2026-03-10T10:00"},
        {"start": "2026-03-11T09:00"},
    ]
    variables = {"input": {"proposalId": "x", "timeZone": "UTC", "windows": windows}}
    body = await gql(query, variables, token=world.token(world.a.member))
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.windows.1"}
