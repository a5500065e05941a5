"""The one registry of calendar providers: everything that differs between them.

Adding a provider is one module (a `CalendarClient` subclass, as google.py and outlook.py
are) plus one entry in PROVIDERS (and its value in the CalendarProvider enum and its
settings). Nothing else branches on the provider: a provider missing here is refused
loudly (KeyError), never mistaken for another.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from app.calendars.base import CalendarClient, TokenHolder
from app.calendars.google import GoogleCalendarClient
from app.calendars.outlook import OutlookCalendarClient
from app.config import Settings
from app.models import CalendarProvider


@dataclass(frozen=True)
class OAuthApp:
    client_id: str
    client_secret: str
    auth_url: str
    token_url: str

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)


ClientFactory = Callable[[Settings, TokenHolder, str, str], CalendarClient]


@dataclass(frozen=True)
class ProviderSpec:
    name: str  # what people read: "Google Calendar"
    conference: str  # the meeting its events carry, as Interview.conference_provider
    app: Callable[[Settings], OAuthApp]  # its OAuth client, from the settings
    scopes: tuple[str, ...]
    client: ClientFactory  # (settings, tokens, calendar id, account email)
    auth_params: Mapping[str, str] = field(default_factory=dict)  # consent page extras
    # Event ids are ours to choose (Google): a create whose answer was lost may have
    # landed under our key, so a delete can target it without knowing the provider's id.
    client_chosen_event_ids: bool = False


def _google_app(settings: Settings) -> OAuthApp:
    return OAuthApp(
        settings.google_client_id,
        settings.google_client_secret,
        settings.google_auth_url,
        settings.google_token_url,
    )


def _microsoft_app(settings: Settings) -> OAuthApp:
    return OAuthApp(
        settings.microsoft_client_id,
        settings.microsoft_client_secret,
        settings.microsoft_auth_url,
        settings.microsoft_token_url,
    )


PROVIDERS: dict[CalendarProvider, ProviderSpec] = {
    CalendarProvider.GOOGLE: ProviderSpec(
        name="Google Calendar",
        conference="google_meet",
        app=_google_app,
        scopes=(
            "openid",
            "email",
            "https://www.googleapis.com/auth/calendar.events",
            "https://www.googleapis.com/auth/calendar.readonly",
        ),
        # offline + consent: Google returns a refresh token on every connect.
        auth_params={
            "access_type": "offline",
            "prompt": "consent",
            "include_granted_scopes": "true",
        },
        client=lambda settings, holder, calendar_id, _email: GoogleCalendarClient(
            settings=settings, holder=holder, calendar_id=calendar_id
        ),
        client_chosen_event_ids=True,
    ),
    CalendarProvider.MICROSOFT: ProviderSpec(
        name="Outlook Calendar",
        conference="microsoft_teams",
        app=_microsoft_app,
        scopes=("openid", "email", "offline_access", "User.Read", "Calendars.ReadWrite"),
        auth_params={"response_mode": "query"},
        client=lambda settings, holder, calendar_id, email: OutlookCalendarClient(
            settings=settings, holder=holder, calendar_id=calendar_id, account_email=email
        ),
    ),
}


def spec(provider: CalendarProvider) -> ProviderSpec:
    return PROVIDERS[provider]


def configured(settings: Settings, provider: CalendarProvider) -> bool:
    return spec(provider).app(settings).configured
