"""The fake providers, started once per run, reset before each test; settings that use them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.calendars.base import CalendarClient, TokenHolder
from app.calendars.connections import client_for_tokens
from app.calendars.freebusy import clear_busy_cache
from app.calendars.tokens import TokenSet
from app.config import Settings
from app.models import CalendarProvider
from tests.conftest import SECRET, make_settings
from tests.fakes import google, microsoft
from tests.fakes.base import ServerThread
from tests.fakes.google import FakeGoogle
from tests.fakes.microsoft import FakeMicrosoft


@dataclass
class Fakes:
    google: FakeGoogle
    microsoft: FakeMicrosoft
    google_url: str
    microsoft_url: str

    def overrides(self) -> dict[str, Any]:
        return {
            "google_client_id": google.CLIENT_ID,
            "google_client_secret": google.CLIENT_SECRET,
            "google_api_url": f"{self.google_url}/calendar/v3/",
            "google_auth_url": f"{self.google_url}/o/oauth2/v2/auth",
            "google_token_url": f"{self.google_url}/token",
            "microsoft_client_id": microsoft.CLIENT_ID,
            "microsoft_client_secret": microsoft.CLIENT_SECRET,
            "microsoft_api_url": f"{self.microsoft_url}/",
            "microsoft_auth_url": f"{self.microsoft_url}/common/oauth2/v2.0/authorize",
            "microsoft_token_url": f"{self.microsoft_url}/common/oauth2/v2.0/token",
            "calendar_timeout_seconds": 5.0,
        }


@pytest.fixture(scope="session")
def fake_servers() -> Iterator[Fakes]:
    fake_google, fake_microsoft = FakeGoogle(), FakeMicrosoft()
    google_server, microsoft_server = (
        ServerThread(fake_google.app),
        ServerThread(fake_microsoft.app),
    )
    google_server.start()
    microsoft_server.start()
    try:
        yield Fakes(fake_google, fake_microsoft, google_server.url, microsoft_server.url)
    finally:
        google_server.stop()
        microsoft_server.stop()


@pytest.fixture
def fakes(fake_servers: Fakes) -> Fakes:
    fake_servers.google.reset()
    fake_servers.microsoft.reset()
    clear_busy_cache()
    return fake_servers


@pytest.fixture
def settings(database_url: str, fakes: Fakes) -> Settings:
    """Overrides the root fixture: the app talks to the fakes."""
    return make_settings(database_url, **fakes.overrides())


@pytest.fixture
def provider_settings(fakes: Fakes) -> Settings:
    """For tests of the clients alone: no database involved."""
    return Settings(database_url="sqlite:///unused.db", secret_key=SECRET, **fakes.overrides())


def token_set(body: dict[str, Any], *, expired: bool = False) -> TokenSet:
    tokens = TokenSet.from_response(body, now=datetime.now(UTC))
    if expired:
        tokens = TokenSet(
            tokens.access_token,
            tokens.refresh_token,
            datetime.now(UTC) - timedelta(minutes=5),
            tokens.scope,
        )
    return tokens


@dataclass
class Harness:
    """One provider as the tests drive it: its fake and a client for one account."""

    provider: CalendarProvider
    settings: Settings
    fakes: Fakes
    email: str
    opened: list[CalendarClient] = field(default_factory=list)

    @property
    def fake(self) -> FakeGoogle | FakeMicrosoft:
        return (
            self.fakes.google if self.provider is CalendarProvider.GOOGLE else self.fakes.microsoft
        )

    def client(self, *, expired: bool = False, tokens: TokenSet | None = None) -> CalendarClient:
        tokens = tokens or token_set(self.fake.oauth.issue_tokens(self.email), expired=expired)
        calendar_id = (
            self.email
            if self.provider is CalendarProvider.GOOGLE
            else microsoft.calendar_id_of(self.email)
        )
        client = client_for_tokens(
            self.settings,
            self.provider,
            TokenHolder(tokens),
            calendar_id=calendar_id,
            account_email=self.email,
        )
        self.opened.append(client)
        return client

    def events(self) -> list[dict[str, Any]]:
        return self.fake.events(self.email)

    def event_times(self, event: dict[str, Any]) -> tuple[datetime, datetime]:
        if self.provider is CalendarProvider.GOOGLE:
            return google.parse_time(event["start"]), google.parse_time(event["end"])
        return microsoft.parse_dtz(event["start"]), microsoft.parse_dtz(event["end"])


@pytest.fixture(params=[CalendarProvider.GOOGLE, CalendarProvider.MICROSOFT], ids=str.lower)
def harness(
    request: pytest.FixtureRequest, provider_settings: Settings, fakes: Fakes
) -> Iterator[Harness]:
    harness = Harness(request.param, provider_settings, fakes, "member.one@example.com")
    yield harness
    for client in harness.opened:
        client.close()
