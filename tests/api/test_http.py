"""HTTP around GraphQL: CORS preflights for configured origins, gzip for large answers."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings, SettingsError, load_settings
from app.main import create_app
from tests.conftest import Clock
from tests.factories import make_interview, make_world

PREFLIGHT = {
    "Origin": "https://app.example.com",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rt.test")  # type: ignore[arg-type]


async def test_preflight_from_a_configured_origin_allows_the_authorization_header(
    engine: AsyncEngine, settings: Settings
) -> None:
    configured = settings.model_copy(
        update={"cors_origins": "https://app.example.com, http://localhost:5173"}
    )
    async with _client(create_app(configured, engine=engine)) as http:
        response = await http.options("/graphql", headers=PREFLIGHT)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    assert "POST" in response.headers["access-control-allow-methods"]


async def test_no_origin_is_allowed_by_default(engine: AsyncEngine, settings: Settings) -> None:
    assert settings.cors_origins == ""
    async with _client(create_app(settings, engine=engine)) as http:
        response = await http.options("/graphql", headers=PREFLIGHT)
        simple = await http.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"Origin": PREFLIGHT["Origin"]}
        )
    assert response.status_code == 405
    assert "access-control-allow-origin" not in simple.headers


async def test_an_origin_that_is_not_configured_is_refused(
    engine: AsyncEngine, settings: Settings
) -> None:
    configured = settings.model_copy(update={"cors_origins": "https://app.example.com"})
    async with _client(create_app(configured, engine=engine)) as http:
        response = await http.options(
            "/graphql", headers={**PREFLIGHT, "Origin": "https://evil.example.com"}
        )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("value", ["app.example.com", "https://app.example.com/path", "ftp://x"])
def test_a_cors_origin_that_is_not_an_origin_stops_start_up(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUNDTABLE_CORS_ORIGINS", value)
    with pytest.raises(SettingsError, match="ROUNDTABLE_CORS_ORIGINS"):
        load_settings(require_secret=False)


async def test_large_answers_are_gzipped_small_ones_are_not(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    world = await make_world(session)
    for _ in range(10):
        await make_interview(session, settings, world.a, clock.now)
    headers = {"Authorization": f"Bearer {world.token(world.a.member)}", "Accept-Encoding": "gzip"}
    query = "{ myInterviews(group: PENDING, first: 100) { edges { node { id windows { start end } participants { email } } } } }"
    large = await client.post("/graphql", json={"query": query}, headers=headers)
    small = await client.post("/graphql", json={"query": "{ me { id } }"}, headers=headers)
    assert large.headers.get("content-encoding") == "gzip"
    assert len(large.json()["data"]["myInterviews"]["edges"]) == 10  # httpx decompressed it
    assert "content-encoding" not in small.headers
