"""Connecting a calendar: the signed links and states of the OAuth flow.

The flow has three legs, each bound to what the previous one proved:

1. `connectCalendar` (bearer token) answers a Roundtable start link carrying a signed
   *ticket*: the user, the provider, a nonce. It works once, for a few minutes.
2. The start link, opened in the user's browser, sets an HttpOnly cookie with a random
   browser secret and redirects to the provider with a signed `state` that carries the
   user and the secret's hash.
3. The provider sends the browser back to our callback. The state must be genuine, fresh,
   not used before, and match the cookie: a browser that did not open the start link (an
   attacker's victim sent a provider link) cannot complete the flow.

Used tickets and states are recorded until they expire (`oauth_consumed_nonces`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.calendars import providers
from app.calendars.tokens import OAuthClient
from app.config import Settings
from app.db import begin_write
from app.models import CalendarProvider, ConsumedOAuthNonce

TICKET_SALT = "roundtable.calendar-oauth-ticket.v1"
STATE_SALT = "roundtable.calendar-oauth.v2"
# Short: an unused start link handed to someone else would bind the flow to their browser.
TICKET_MAX_AGE_SECONDS = 5 * 60
STATE_MAX_AGE_SECONDS = 15 * 60
COOKIE_PREFIX = "roundtable_oauth_"

PROVIDER_NAMES = {provider: spec.name for provider, spec in providers.PROVIDERS.items()}


class OAuthStateError(Exception):
    pass


@dataclass(frozen=True)
class Ticket:
    user_id: uuid.UUID
    provider: CalendarProvider
    nonce: str
    login_hint: str | None


@dataclass(frozen=True)
class OAuthState:
    user_id: uuid.UUID
    provider: CalendarProvider
    nonce: str
    browser_hash: str


def _serializer(settings: Settings, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=salt)


def _load(
    settings: Settings, salt: str, value: str, max_age: int, provider: CalendarProvider
) -> dict[str, Any]:
    try:
        payload = _serializer(settings, salt).loads(value, max_age=max_age)
    except BadSignature as exc:  # also SignatureExpired
        raise OAuthStateError("the connection link is invalid or has expired") from exc
    if not isinstance(payload, dict) or payload.get("p") != provider.value:
        raise OAuthStateError("the connection link was made for another provider")
    if not isinstance(payload.get("n"), str):
        raise OAuthStateError("the connection link is invalid")
    return payload


def _user_id(payload: dict[str, Any]) -> uuid.UUID:
    try:
        return uuid.UUID(str(payload.get("u")))
    except ValueError as exc:
        raise OAuthStateError("the connection link is invalid") from exc


def _nonce() -> str:
    return secrets.token_urlsafe(16)


def browser_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start_url(
    settings: Settings,
    *,
    user_id: uuid.UUID,
    provider: CalendarProvider,
    login_hint: str | None = None,
) -> str:
    """The link connectCalendar answers: our start endpoint with a single-use ticket."""
    payload = {"u": str(user_id), "p": provider.value, "n": _nonce(), "h": login_hint}
    ticket = _serializer(settings, TICKET_SALT).dumps(payload)
    query = urlencode({"ticket": ticket})
    return f"{settings.public_url}/oauth/{provider.value.lower()}/start?{query}"


def read_ticket(settings: Settings, ticket: str, *, provider: CalendarProvider) -> Ticket:
    payload = _load(settings, TICKET_SALT, ticket, TICKET_MAX_AGE_SECONDS, provider)
    hint = payload.get("h")
    return Ticket(
        user_id=_user_id(payload),
        provider=provider,
        nonce=payload["n"],
        login_hint=hint if isinstance(hint, str) else None,
    )


def sign_state(
    settings: Settings, *, user_id: uuid.UUID, provider: CalendarProvider, browser_secret: str
) -> str:
    payload = {
        "u": str(user_id),
        "p": provider.value,
        "n": _nonce(),
        "b": browser_hash(browser_secret),
    }
    return _serializer(settings, STATE_SALT).dumps(payload)


def read_state(
    settings: Settings, state: str, *, provider: CalendarProvider, browser_secret: str | None
) -> OAuthState:
    """The state's user, if it is genuine, fresh, and this browser started the flow."""
    payload = _load(settings, STATE_SALT, state, STATE_MAX_AGE_SECONDS, provider)
    expected = payload.get("b")
    if (
        not browser_secret
        or not isinstance(expected, str)
        or not hmac.compare_digest(expected, browser_hash(browser_secret))
    ):
        raise OAuthStateError(
            "this connection was started in another browser; start again from Roundtable"
        )
    return OAuthState(
        user_id=_user_id(payload), provider=provider, nonce=payload["n"], browser_hash=expected
    )


async def consume_nonce(
    *, session: AsyncSession, nonce: str, now: datetime, lifetime_seconds: int
) -> bool:
    """Record a ticket's or state's nonce as used, in its own short write transaction.

    False when it was used before. Records outlive the signature's max age, so a replay is
    refused by the record or by the signature. `now` is the real time: the signatures'
    ages are checked against it.
    """
    await begin_write(session)
    await session.execute(delete(ConsumedOAuthNonce).where(ConsumedOAuthNonce.expires_at < now))
    session.add(
        ConsumedOAuthNonce(nonce=nonce, expires_at=now + timedelta(seconds=lifetime_seconds))
    )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True


def cookie_name(provider: CalendarProvider) -> str:
    return COOKIE_PREFIX + provider.value.lower()


def redirect_uri(settings: Settings, provider: CalendarProvider) -> str:
    return f"{settings.public_url}/oauth/{provider.value.lower()}/callback"


def callback_path(settings: Settings, provider: CalendarProvider) -> str:
    """The cookie's path: only the callback (behind any path prefix of PUBLIC_URL) gets it."""
    return urlsplit(redirect_uri(settings, provider)).path


def authorization_url(
    settings: Settings,
    *,
    state: str,
    provider: CalendarProvider,
    login_hint: str | None = None,
) -> str:
    """The provider's consent page."""
    common = {
        "response_type": "code",
        "redirect_uri": redirect_uri(settings, provider),
        "state": state,
    }
    if login_hint:
        # Both providers preselect this account on their consent page.
        common["login_hint"] = login_hint
    spec = providers.spec(provider)
    app = spec.app(settings)
    params = {
        "client_id": app.client_id,
        "scope": " ".join(spec.scopes),
        **spec.auth_params,
        **common,
    }
    base = app.auth_url
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}{urlencode(params)}"


def oauth_client(settings: Settings, provider: CalendarProvider) -> OAuthClient:
    app = providers.spec(provider).app(settings)
    return OAuthClient(
        client_id=app.client_id,
        client_secret=app.client_secret,
        token_url=app.token_url,
        timeout=settings.calendar_timeout_seconds,
    )
