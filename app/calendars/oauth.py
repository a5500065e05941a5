"""Connecting a calendar: the provider's consent page and the callback that stores tokens.

The `state` parameter is signed with the secret key, names the user who asked and the
provider, and expires: the callback, which arrives without our bearer token, trusts
nothing else. The provider's consent page keeps it unchanged.
"""

from __future__ import annotations

import asyncio
import html
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from app.calendars.base import CalendarError, TokenHolder
from app.calendars.connections import client_for_tokens, provider_configured, save_connection
from app.calendars.tokens import OAuthClient, TokenEndpointError
from app.config import Settings
from app.models import CalendarProvider, User
from app.models.base import utcnow

logger = logging.getLogger(__name__)

STATE_SALT = "roundtable.calendar-oauth.v1"
STATE_MAX_AGE_SECONDS = 15 * 60

GOOGLE_SCOPES = (
    "openid",
    "email",
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.readonly",
)
MICROSOFT_SCOPES = ("openid", "email", "offline_access", "User.Read", "Calendars.ReadWrite")

PROVIDER_NAMES = {
    CalendarProvider.GOOGLE: "Google Calendar",
    CalendarProvider.MICROSOFT: "Outlook Calendar",
}


class OAuthStateError(Exception):
    pass


@dataclass(frozen=True)
class OAuthState:
    user_id: uuid.UUID
    provider: CalendarProvider


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=STATE_SALT)


def sign_state(settings: Settings, *, user_id: uuid.UUID, provider: CalendarProvider) -> str:
    # The nonce makes every URL distinct, so one leaked state says nothing about the next.
    payload = {"u": str(user_id), "p": provider.value, "n": secrets.token_urlsafe(8)}
    return _serializer(settings).dumps(payload)


def read_state(settings: Settings, state: str, *, provider: CalendarProvider) -> OAuthState:
    try:
        payload = _serializer(settings).loads(state, max_age=STATE_MAX_AGE_SECONDS)
    except BadSignature as exc:  # also SignatureExpired
        raise OAuthStateError("the connection link is invalid or has expired") from exc
    if not isinstance(payload, dict) or payload.get("p") != provider.value:
        raise OAuthStateError("the connection link was made for another provider")
    try:
        user_id = uuid.UUID(str(payload.get("u")))
    except ValueError as exc:
        raise OAuthStateError("the connection link is invalid") from exc
    return OAuthState(user_id=user_id, provider=provider)


def redirect_uri(settings: Settings, provider: CalendarProvider) -> str:
    return f"{settings.public_url}/oauth/{provider.value.lower()}/callback"


def authorization_url(
    settings: Settings,
    *,
    user_id: uuid.UUID,
    provider: CalendarProvider,
    login_hint: str | None = None,
) -> str:
    state = sign_state(settings, user_id=user_id, provider=provider)
    common = {
        "response_type": "code",
        "redirect_uri": redirect_uri(settings, provider),
        "state": state,
    }
    if login_hint:
        # Both providers preselect this account on their consent page.
        common["login_hint"] = login_hint
    if provider is CalendarProvider.GOOGLE:
        params = {
            "client_id": settings.google_client_id,
            "scope": " ".join(GOOGLE_SCOPES),
            # offline + consent: Google returns a refresh token on every connect.
            "access_type": "offline",
            "prompt": "consent",
            "include_granted_scopes": "true",
            **common,
        }
        base = settings.google_auth_url
    else:
        params = {
            "client_id": settings.microsoft_client_id,
            "scope": " ".join(MICROSOFT_SCOPES),
            "response_mode": "query",
            **common,
        }
        base = settings.microsoft_auth_url
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}{urlencode(params)}"


def oauth_client(settings: Settings, provider: CalendarProvider) -> OAuthClient:
    if provider is CalendarProvider.GOOGLE:
        return OAuthClient(
            client_id=settings.google_client_id,
            client_secret=settings.google_client_secret,
            token_url=settings.google_token_url,
            timeout=settings.calendar_timeout_seconds,
        )
    return OAuthClient(
        client_id=settings.microsoft_client_id,
        client_secret=settings.microsoft_client_secret,
        token_url=settings.microsoft_token_url,
        timeout=settings.calendar_timeout_seconds,
    )


class CallbackFailed(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def complete_connection(
    *,
    session: AsyncSession,
    settings: Settings,
    provider: CalendarProvider,
    code: str,
    state: str,
    now: datetime,
) -> tuple[User, str]:
    """Check the state, exchange the code, read the account, store it. Does not commit."""
    try:
        bound = read_state(settings, state, provider=provider)
    except OAuthStateError as exc:
        raise CallbackFailed(str(exc)) from exc
    user = await session.get(User, bound.user_id)
    if user is None:
        raise CallbackFailed("the connection link is invalid")
    try:
        tokens = await asyncio.to_thread(
            oauth_client(settings, provider).exchange_code,
            code=code,
            redirect_uri=redirect_uri(settings, provider),
            # Token lifetimes run on the provider's (real) clock, not the app's.
            now=utcnow(),
        )
    except TokenEndpointError as exc:
        logger.info("OAuth code exchange failed for %s: %s", provider, exc)
        raise CallbackFailed(
            "the provider did not accept the authorization; please try again", status=502
        ) from exc
    if not tokens.refresh_token:
        raise CallbackFailed("the provider gave no refresh token; please connect again")
    holder = TokenHolder(tokens)
    try:
        async with client_for_tokens(settings, provider, holder) as client:
            account = await client.account()
    except CalendarError as exc:
        logger.info("reading the %s account failed: %s", provider, exc)
        raise CallbackFailed("the calendar could not be read; please try again", 502) from exc
    connection = await save_connection(
        session=session,
        settings=settings,
        user_id=user.id,
        provider=provider,
        account=account,
        tokens=holder.tokens,
        now=now,
    )
    return user, connection.account_email


def oauth_callback(
    *,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    clock: Callable[[], datetime],
) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint for /oauth/{provider}/callback."""

    async def endpoint(request: Request) -> Response:
        try:
            provider = CalendarProvider(str(request.path_params["provider"]).upper())
        except ValueError:
            return _page("Unknown calendar provider.", status=404)
        if not provider_configured(settings, provider):
            return _page(f"{PROVIDER_NAMES[provider]} is not configured.", status=404)
        query = request.query_params
        if query.get("error"):
            return _page(f"The calendar was not connected ({query['error']}).", status=400)
        code, state = query.get("code"), query.get("state")
        if not code or not state:
            return _page("The provider's answer lacks the code or the state.", status=400)
        async with session_factory() as session:
            try:
                _, email = await complete_connection(
                    session=session,
                    settings=settings,
                    provider=provider,
                    code=code,
                    state=state,
                    now=clock(),
                )
                await session.commit()
            except CallbackFailed as exc:
                await session.rollback()
                return _page(f"The calendar was not connected: {exc}", status=exc.status)
        return _page(f"{PROVIDER_NAMES[provider]} {email} is connected. You can close this page.")

    return endpoint


def _page(message: str, status: int = 200) -> HTMLResponse:
    body = (
        "<!doctype html><meta charset=utf-8><title>Roundtable calendar</title>"
        f"<p>{html.escape(message)}</p>"
    )
    return HTMLResponse(body, status_code=status)
