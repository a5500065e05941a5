"""Connections: storing them, opening a provider client for one, and marking one broken.

Like every service here, nothing in this module commits: the request or task that called
it does, once.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.calendars import providers
from app.calendars.base import AccountInfo, CalendarClient, TokenHolder
from app.calendars.tokens import TokenCipher, TokenSet
from app.config import Settings
from app.models import CalendarConnection, CalendarProvider, ConnectionState


@functools.lru_cache(maxsize=4)
def token_cipher(secret_key: str) -> TokenCipher:
    return TokenCipher(secret_key)


def provider_configured(settings: Settings, provider: CalendarProvider) -> bool:
    return providers.configured(settings, provider)


def client_for(connection: CalendarConnection, settings: Settings) -> CalendarClient:
    """A provider client on the connection's decrypted tokens; keep `client.tokens` after
    use when `client.tokens_changed` (a refreshed token)."""
    holder = TokenHolder(token_cipher(settings.secret_key).decrypt(connection.token_ciphertext))
    return client_for_tokens(
        settings,
        connection.provider,
        holder,
        calendar_id=connection.calendar_id,
        account_email=connection.account_email,
    )


def client_for_tokens(
    settings: Settings,
    provider: CalendarProvider,
    holder: TokenHolder,
    *,
    calendar_id: str = "primary",
    account_email: str = "",
) -> CalendarClient:
    return providers.spec(provider).client(settings, holder, calendar_id, account_email)


async def save_connection(
    *,
    session: AsyncSession,
    settings: Settings,
    user_id: uuid.UUID,
    provider: CalendarProvider,
    account: AccountInfo,
    tokens: TokenSet,
    now: datetime,
) -> CalendarConnection:
    """Create the user's connection to this provider, or replace its account and tokens."""
    ciphertext = token_cipher(settings.secret_key).encrypt(tokens)
    connection = await connection_of(session=session, user_id=user_id, provider=provider)
    if connection is None:
        connection = CalendarConnection(
            id=uuid.uuid4(),
            user_id=user_id,
            provider=provider,
            created_at=now,
            account_email=account.email,
            calendar_id=account.calendar_id,
            token_ciphertext=ciphertext,
            state=ConnectionState.CONNECTED,
            updated_at=now,
        )
        session.add(connection)
    else:
        connection.account_email = account.email
        connection.calendar_id = account.calendar_id
        connection.token_ciphertext = ciphertext
        connection.state = ConnectionState.CONNECTED
        connection.broken_reason = None
        connection.broken_at = None
        connection.updated_at = now
    await session.flush()
    return connection


async def connection_of(
    *, session: AsyncSession, user_id: uuid.UUID, provider: CalendarProvider
) -> CalendarConnection | None:
    return await session.scalar(
        select(CalendarConnection).where(
            CalendarConnection.user_id == user_id, CalendarConnection.provider == provider
        )
    )


async def connections_of_users(
    *, session: AsyncSession, user_ids: Sequence[uuid.UUID]
) -> list[CalendarConnection]:
    if not user_ids:
        return []
    rows = await session.scalars(
        select(CalendarConnection)
        .where(CalendarConnection.user_id.in_(list(user_ids)))
        .order_by(CalendarConnection.user_id, CalendarConnection.provider)
    )
    return list(rows)
