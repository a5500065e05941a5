"""The browser-facing OAuth endpoints: /oauth/{provider}/start and /oauth/{provider}/callback.

The callback never holds a transaction across the provider calls: the state is consumed in
one short transaction, the code is exchanged and the account read with no connection
held, and the connection is written in a second short transaction (on SQLite a read
transaction kept open across the provider call made the write fail with "database is
locked" while the worker wrote).
"""

from __future__ import annotations

import asyncio
import html
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.calendars.base import AccountInfo, CalendarError, TokenHolder
from app.calendars.connections import client_for_tokens, provider_configured, save_connection
from app.calendars.oauth import (
    PROVIDER_NAMES,
    STATE_MAX_AGE_SECONDS,
    TICKET_MAX_AGE_SECONDS,
    OAuthStateError,
    authorization_url,
    callback_path,
    consume_nonce,
    cookie_name,
    oauth_client,
    read_state,
    read_ticket,
    redirect_uri,
    sign_state,
)
from app.calendars.tokens import TokenEndpointError, TokenSet
from app.config import Settings
from app.db import begin_write
from app.models import CalendarProvider, User
from app.models.base import utcnow

logger = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]


class CallbackFailed(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _provider(request: Request, settings: Settings) -> CalendarProvider:
    try:
        provider = CalendarProvider(str(request.path_params["provider"]).upper())
    except ValueError:
        raise CallbackFailed("unknown calendar provider", status=404) from None
    if not provider_configured(settings, provider):
        raise CallbackFailed(f"{PROVIDER_NAMES[provider]} is not configured", status=404)
    return provider


def oauth_start(
    *, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> Endpoint:
    """Bind the flow to this browser (a cookie) and send it to the provider's consent page."""

    async def endpoint(request: Request) -> Response:
        try:
            provider = _provider(request, settings)
            ticket = read_ticket(
                settings, request.query_params.get("ticket", ""), provider=provider
            )
        except CallbackFailed as exc:
            return _page(f"The calendar cannot be connected: {exc}.", status=exc.status)
        except OAuthStateError as exc:
            return _page(f"The calendar cannot be connected: {exc}.", status=400)
        async with session_factory() as session:
            fresh = await consume_nonce(
                session=session,
                nonce=ticket.nonce,
                now=utcnow(),
                lifetime_seconds=TICKET_MAX_AGE_SECONDS,
            )
        if not fresh:
            return _page(
                "This connection link was already used. Choose “Connect calendar” in "
                "Roundtable again for a new one.",
                status=400,
            )
        browser_secret = secrets.token_urlsafe(32)
        state = sign_state(
            settings, user_id=ticket.user_id, provider=provider, browser_secret=browser_secret
        )
        response = RedirectResponse(
            authorization_url(
                settings, state=state, provider=provider, login_hint=ticket.login_hint
            ),
            status_code=303,
        )
        response.set_cookie(
            cookie_name(provider),
            browser_secret,
            max_age=STATE_MAX_AGE_SECONDS,
            path=callback_path(settings, provider),
            secure=settings.public_url.startswith("https://"),
            httponly=True,
            samesite="lax",  # sent on the provider's top-level redirect back to us
        )
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"  # the ticket stays with us
        return response

    return endpoint


async def fetch_account(
    settings: Settings, provider: CalendarProvider, code: str
) -> tuple[AccountInfo, TokenSet]:
    """Exchange the code and read the account; no database connection is held meanwhile."""
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
    return account, holder.tokens


async def complete_connection(
    *,
    request: Request,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    provider: CalendarProvider,
    now: datetime,
) -> str:
    """Check the state against this browser, consume it, connect; the account's email."""
    query = request.query_params
    code, state = query.get("code"), query.get("state")
    if not code or not state:
        raise CallbackFailed("the provider's answer lacks the code or the state")
    try:
        bound = read_state(
            settings,
            state,
            provider=provider,
            browser_secret=request.cookies.get(cookie_name(provider)),
        )
    except OAuthStateError as exc:
        raise CallbackFailed(str(exc)) from exc
    async with session_factory() as session:
        fresh = await consume_nonce(
            session=session,
            nonce=bound.nonce,
            now=utcnow(),
            lifetime_seconds=STATE_MAX_AGE_SECONDS,
        )
    if not fresh:
        raise CallbackFailed("this connection link was already used; start again from Roundtable")
    account, tokens = await fetch_account(settings, provider, code)
    async with session_factory() as session:
        await begin_write(session)
        if await session.get(User, bound.user_id) is None:
            raise CallbackFailed("the connection link is invalid")
        connection = await save_connection(
            session=session,
            settings=settings,
            user_id=bound.user_id,
            provider=provider,
            account=account,
            tokens=tokens,
            now=now,
        )
        await session.commit()
        return connection.account_email


def oauth_callback(
    *,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    clock: Callable[[], datetime],
) -> Endpoint:
    """The Starlette endpoint for /oauth/{provider}/callback."""

    async def endpoint(request: Request) -> Response:
        try:
            provider = _provider(request, settings)
            if request.query_params.get("error"):
                error = request.query_params["error"][:100]
                raise CallbackFailed(f"the calendar was not connected ({error})")
            email = await complete_connection(
                request=request,
                settings=settings,
                session_factory=session_factory,
                provider=provider,
                now=clock(),
            )
        except CallbackFailed as exc:
            return _page(f"The calendar was not connected: {exc}.", status=exc.status)
        response = _page(
            f"{PROVIDER_NAMES[provider]} {email} is connected. You can close this page."
        )
        response.delete_cookie(
            cookie_name(provider), path=callback_path(settings, provider), httponly=True
        )
        return response

    return endpoint


def _page(message: str, status: int = 200) -> HTMLResponse:
    body = (
        "<!doctype html><meta charset=utf-8><title>Roundtable calendar</title>"
        f"<p>{html.escape(message)}</p>"
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
