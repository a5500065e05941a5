"""Connecting a calendar: connectCalendar, the provider's consent, our callback, the row."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.calendars import oauth, oauth_routes
from app.calendars.connections import token_cipher
from app.config import Settings
from app.logredact import redact_access_log
from app.main import create_app
from app.models import CalendarConnection, CalendarProvider, User
from tests.calendars.conftest import Fakes
from tests.conftest import Clock, GraphQLClient
from tests.factories import make_world

CONNECT = """
mutation Connect($provider: CalendarProvider!) {
  connectCalendar(provider: $provider) { authorizationUrl errors { code message field } }
}
"""
DISCONNECT = """
mutation Disconnect($provider: CalendarProvider!) {
  disconnectCalendar(provider: $provider) { disconnected errors { code field } }
}
"""
MINE = "{ myCalendarConnections { provider accountEmail calendarId state brokenReason } }"

PROVIDERS = [CalendarProvider.GOOGLE, CalendarProvider.MICROSOFT]


def fake_of(fakes: Fakes, provider: CalendarProvider) -> Any:
    return fakes.google if provider is CalendarProvider.GOOGLE else fakes.microsoft


async def connect_link(gql: GraphQLClient, token: str, provider: CalendarProvider) -> str:
    """connectCalendar's answer: our start link, as a path to open in a browser."""
    body = await gql(CONNECT, {"provider": provider.value}, token=token)
    payload = body["data"]["connectCalendar"]
    assert payload["errors"] == []
    url = urlsplit(payload["authorizationUrl"])
    assert url.path == f"/oauth/{provider.value.lower()}/start"
    return f"{url.path}?{url.query}"


async def open_link(browser: httpx.AsyncClient, link: str) -> dict[str, str]:
    """The browser opens the start link; the query of the provider page it is sent to."""
    response = await browser.get(link)
    assert response.status_code == 303, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return {k: v[0] for k, v in query.items()}


async def start_connect(
    gql: GraphQLClient, token: str, provider: CalendarProvider
) -> dict[str, str]:
    """connectCalendar, then the start link opened in the test client's browser."""
    return await open_link(gql.http, await connect_link(gql, token, provider))


async def consent(
    client: httpx.AsyncClient,
    fakes: Fakes,
    provider: CalendarProvider,
    params: dict[str, str],
    email: str,
) -> httpx.Response:
    """The user consents at the (fake) provider, which sends the browser to our callback."""
    code = fake_of(fakes, provider).oauth.issue_code(email, params["redirect_uri"])
    path = urlsplit(params["redirect_uri"]).path
    return await client.get(path, params={"code": code, "state": params["state"]})


@pytest.mark.parametrize("provider", PROVIDERS, ids=str.lower)
async def test_connecting_stores_the_account_and_encrypted_tokens(
    provider: CalendarProvider,
    session: AsyncSession,
    gql: GraphQLClient,
    client: httpx.AsyncClient,
    fakes: Fakes,
    settings: Settings,
) -> None:
    world = await make_world(session)
    member = world.a.member
    params = await start_connect(gql, world.token(member), provider)
    assert params["login_hint"] == member.email
    assert params["client_id"] == (
        settings.google_client_id
        if provider is CalendarProvider.GOOGLE
        else settings.microsoft_client_id
    )

    response = await consent(client, fakes, provider, params, "Member.A@Example.com")

    assert response.status_code == 200, response.text
    assert "member.a@example.com" in response.text
    row = await session.scalar(
        select(CalendarConnection).where(CalendarConnection.user_id == member.id)
    )
    assert row is not None
    assert row.provider is provider
    assert row.account_email == "member.a@example.com"
    assert row.calendar_id
    issued = fake_of(fakes, provider).oauth
    [access] = list(issued.access)
    [refresh] = list(issued.refresh)
    raw = await session.scalar(
        text("SELECT token_ciphertext FROM calendar_connections WHERE id = :id"),
        {"id": row.id if session.get_bind().dialect.name == "postgresql" else row.id.hex},
    )
    assert raw and access not in raw and refresh not in raw
    stored = token_cipher(settings.secret_key).decrypt(raw)
    assert (stored.access_token, stored.refresh_token) == (access, refresh)

    body = await gql(MINE, token=world.token(member))
    assert body["data"]["myCalendarConnections"] == [
        {
            "provider": provider.value,
            "accountEmail": "member.a@example.com",
            "calendarId": row.calendar_id,
            "state": "CONNECTED",
            "brokenReason": None,
        }
    ]
    colleague = await gql(MINE, token=world.token(world.a.colleague))
    assert colleague["data"]["myCalendarConnections"] == []


async def test_a_tampered_state_is_refused_and_nothing_is_stored(
    session: AsyncSession, gql: GraphQLClient, client: httpx.AsyncClient, fakes: Fakes
) -> None:
    world = await make_world(session)
    params = await start_connect(gql, world.token(world.a.member), CalendarProvider.GOOGLE)
    params["state"] = params["state"][:-2] + ("AA" if not params["state"].endswith("AA") else "BB")

    response = await consent(client, fakes, CalendarProvider.GOOGLE, params, "a@example.com")

    assert response.status_code == 400
    assert await session.scalar(select(CalendarConnection)) is None
    assert fakes.google.oauth.token_requests == []  # the code was never exchanged


async def test_a_state_made_for_one_provider_is_refused_by_the_other(
    session: AsyncSession, gql: GraphQLClient, client: httpx.AsyncClient, fakes: Fakes
) -> None:
    world = await make_world(session)
    params = await start_connect(gql, world.token(world.a.member), CalendarProvider.GOOGLE)
    code = fakes.microsoft.oauth.issue_code("a@example.com")

    response = await client.get(
        "/oauth/microsoft/callback", params={"code": code, "state": params["state"]}
    )

    assert response.status_code == 400
    assert await session.scalar(select(CalendarConnection)) is None


async def test_a_refused_code_stores_nothing(
    session: AsyncSession, gql: GraphQLClient, client: httpx.AsyncClient, fakes: Fakes
) -> None:
    world = await make_world(session)
    params = await start_connect(gql, world.token(world.a.member), CalendarProvider.GOOGLE)

    response = await client.get(
        "/oauth/google/callback", params={"code": "not-issued", "state": params["state"]}
    )

    assert response.status_code == 502
    assert await session.scalar(select(CalendarConnection)) is None


async def test_connecting_again_replaces_the_connection(
    session: AsyncSession, gql: GraphQLClient, client: httpx.AsyncClient, fakes: Fakes
) -> None:
    world = await make_world(session)
    token = world.token(world.a.member)
    for email in ("first@example.com", "second@example.com"):
        params = await start_connect(gql, token, CalendarProvider.GOOGLE)
        response = await consent(client, fakes, CalendarProvider.GOOGLE, params, email)
        assert response.status_code == 200

    body = await gql(MINE, token=token)

    assert [c["accountEmail"] for c in body["data"]["myCalendarConnections"]] == [
        "second@example.com"
    ]


async def test_disconnecting_removes_the_connection(
    session: AsyncSession, gql: GraphQLClient, client: httpx.AsyncClient, fakes: Fakes
) -> None:
    world = await make_world(session)
    token = world.token(world.a.member)
    params = await start_connect(gql, token, CalendarProvider.MICROSOFT)
    await consent(client, fakes, CalendarProvider.MICROSOFT, params, "m@example.com")

    first = await gql(DISCONNECT, {"provider": "MICROSOFT"}, token=token)
    second = await gql(DISCONNECT, {"provider": "MICROSOFT"}, token=token)

    assert first["data"]["disconnectCalendar"] == {"disconnected": True, "errors": []}
    assert second["data"]["disconnectCalendar"] == {
        "disconnected": False,
        "errors": [{"code": "NOT_FOUND", "field": "provider"}],
    }
    assert (await gql(MINE, token=token))["data"]["myCalendarConnections"] == []


async def test_connecting_needs_a_signed_in_user(gql: GraphQLClient, fakes: Fakes) -> None:
    body = await gql(CONNECT, {"provider": "GOOGLE"})

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_the_user_declining_at_the_provider_stores_nothing(
    session: AsyncSession, client: httpx.AsyncClient, fakes: Fakes
) -> None:
    response = await client.get(
        "/oauth/google/callback", params={"error": "access_denied", "state": "x"}
    )

    assert response.status_code == 400
    assert await session.scalar(select(CalendarConnection)) is None


async def test_a_provider_without_credentials_cannot_be_connected(
    session: AsyncSession, engine: AsyncEngine, settings: Settings, clock: Clock, fakes: Fakes
) -> None:
    world = await make_world(session)
    app = create_app(
        settings.model_copy(update={"microsoft_client_id": ""}), engine=engine, clock=clock
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://roundtable.test"
    ) as http:
        body = await GraphQLClient(http)(
            CONNECT, {"provider": "MICROSOFT"}, token=world.token(world.a.member)
        )
        callback = await http.get("/oauth/microsoft/callback", params={"code": "c", "state": "s"})

    assert body["data"]["connectCalendar"] == {
        "authorizationUrl": None,
        "errors": [
            {
                "code": "VALIDATION",
                "message": "Outlook Calendar is not available on this server",
                "field": "provider",
            }
        ],
    }
    assert callback.status_code == 404


async def test_a_second_browser_cannot_complete_the_first_browsers_flow(
    session: AsyncSession,
    gql: GraphQLClient,
    engine: AsyncEngine,
    settings: Settings,
    clock: Clock,
    fakes: Fakes,
) -> None:
    """The attack of issue 10: the attacker starts a flow and sends the provider link to a
    victim, whose consent would store the victim's calendar on the attacker's user."""
    world = await make_world(session)
    attacker = world.a.member
    params = await start_connect(gql, world.token(attacker), CalendarProvider.GOOGLE)

    async with GraphQLClient.on(create_app(settings, engine=engine, clock=clock)) as victim:
        response = await consent(
            victim.http, fakes, CalendarProvider.GOOGLE, params, "victim@example.com"
        )

    assert response.status_code == 400
    assert "started in another browser" in response.text
    assert await session.scalar(select(CalendarConnection)) is None
    assert fakes.google.oauth.token_requests == []  # the victim's code was never exchanged
    # The browser that started the flow can still finish it.
    own = await consent(gql.http, fakes, CalendarProvider.GOOGLE, params, "attacker@example.com")
    assert own.status_code == 200, own.text


async def test_a_replayed_state_is_refused(
    session: AsyncSession, gql: GraphQLClient, client: httpx.AsyncClient, fakes: Fakes
) -> None:
    world = await make_world(session)
    params = await start_connect(gql, world.token(world.a.member), CalendarProvider.MICROSOFT)
    first = await consent(client, fakes, CalendarProvider.MICROSOFT, params, "first@example.com")
    assert first.status_code == 200, first.text
    exchanges = len(fakes.microsoft.oauth.token_requests)

    client.cookies.set(
        "roundtable_oauth_microsoft", "any", domain="roundtable.test", path="/oauth"
    )  # the cookie was cleared: even a forged one does not help
    replay = await consent(client, fakes, CalendarProvider.MICROSOFT, params, "second@example.com")

    assert replay.status_code == 400
    assert len(fakes.microsoft.oauth.token_requests) == exchanges
    rows = (await session.scalars(select(CalendarConnection.account_email))).all()
    assert rows == ["first@example.com"]


async def test_a_replayed_state_with_the_original_cookie_is_refused(
    session: AsyncSession, gql: GraphQLClient, client: httpx.AsyncClient, fakes: Fakes
) -> None:
    world = await make_world(session)
    link = await connect_link(gql, world.token(world.a.member), CalendarProvider.GOOGLE)
    response = await client.get(link)
    secret = response.cookies["roundtable_oauth_google"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}
    assert (await consent(client, fakes, CalendarProvider.GOOGLE, params, "a@x.com")).status_code == 200

    client.cookies.set("roundtable_oauth_google", secret, domain="roundtable.test")
    replay = await consent(client, fakes, CalendarProvider.GOOGLE, params, "b@x.com")

    assert replay.status_code == 400
    assert "already used" in replay.text


async def test_a_start_link_works_once(
    session: AsyncSession, gql: GraphQLClient, client: httpx.AsyncClient, fakes: Fakes
) -> None:
    world = await make_world(session)
    link = await connect_link(gql, world.token(world.a.member), CalendarProvider.GOOGLE)

    first = await client.get(link)
    second = await client.get(link)

    assert first.status_code == 303
    assert second.status_code == 400
    assert "already used" in second.text


async def test_the_browser_cookie_is_http_only_and_sent_only_to_the_callback(
    session: AsyncSession, gql: GraphQLClient, client: httpx.AsyncClient, fakes: Fakes
) -> None:
    world = await make_world(session)
    link = await connect_link(gql, world.token(world.a.member), CalendarProvider.GOOGLE)

    response = await client.get(link)

    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("roundtable_oauth_google=")
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "path=/oauth/google/callback" in cookie
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_a_tampered_start_link_is_refused(
    session: AsyncSession, gql: GraphQLClient, client: httpx.AsyncClient, fakes: Fakes
) -> None:
    world = await make_world(session)
    link = await connect_link(gql, world.token(world.a.member), CalendarProvider.GOOGLE)

    tampered = await client.get(link[:-3] + ("xyz" if not link.endswith("xyz") else "abc"))
    other_provider = await client.get(link.replace("/google/", "/microsoft/"))

    assert tampered.status_code == 400 and "set-cookie" not in tampered.headers
    assert other_provider.status_code == 400


async def test_the_callback_does_not_hold_a_transaction_across_the_provider_call(
    session: AsyncSession,
    gql: GraphQLClient,
    client: httpx.AsyncClient,
    fakes: Fakes,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the provider answers, the worker commits a write. On SQLite a read
    transaction kept open across the call made the callback's own write fail with
    "database is locked"."""
    world = await make_world(session)
    member = world.a.member
    params = await start_connect(gql, world.token(member), CalendarProvider.GOOGLE)
    original = oauth_routes.fetch_account

    async def worker_writes_meanwhile(*args: Any) -> Any:
        result = await original(*args)
        async with engine.begin() as conn:
            await conn.execute(update(User).where(User.id == member.id).values(name="Renamed"))
        return result

    monkeypatch.setattr(oauth_routes, "fetch_account", worker_writes_meanwhile)

    response = await consent(client, fakes, CalendarProvider.GOOGLE, params, "m@example.com")

    assert response.status_code == 200, response.text
    assert await session.scalar(select(CalendarConnection.account_email)) == "m@example.com"


def test_codes_states_tickets_and_link_tokens_are_kept_out_of_the_access_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    redact_access_log()
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "GET",
            "/oauth/google/callback?state=SECRET-STATE&code=SECRET-CODE&scope=email",
            "1.1",
            200,
        )
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "x", "GET", "/oauth/google/start?ticket=SECRET-T", "1.1", 303
        )
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "x", "GET", "/links/SECRET-LINK.abc?tz=UTC", "1.1", 200
        )

    assert "SECRET" not in caplog.text
    assert "state=[redacted]&code=[redacted]&scope=email" in caplog.text
    assert "ticket=[redacted]" in caplog.text
    assert "/links/[redacted]?tz=UTC" in caplog.text


async def test_an_expired_start_link_or_state_is_refused(
    session: AsyncSession,
    gql: GraphQLClient,
    client: httpx.AsyncClient,
    fakes: Fakes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = await make_world(session)
    token = world.token(world.a.member)
    stale_link = await connect_link(gql, token, CalendarProvider.GOOGLE)
    params = await start_connect(gql, token, CalendarProvider.GOOGLE)
    monkeypatch.setattr(oauth, "TICKET_MAX_AGE_SECONDS", -1)  # every signature is now too old
    monkeypatch.setattr(oauth, "STATE_MAX_AGE_SECONDS", -1)

    link = await client.get(stale_link)
    callback = await consent(client, fakes, CalendarProvider.GOOGLE, params, "a@example.com")

    assert link.status_code == 400 and "expired" in link.text
    assert callback.status_code == 400 and "expired" in callback.text
    assert fakes.google.oauth.token_requests == []
