"""Busy time in connected calendars, for the slots a candidate is offered.

One provider call per connection for the whole range, made concurrently, and kept for a
short while (settings.freebusy_cache_seconds) in this process: a candidate paging through
dates, or several candidates of one team, do not multiply calls to the providers.

A provider that fails never fails the caller: its calendar is listed in `unchecked` and
slots are computed without it, so the answer can say which calendars were not checked.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.calendars.base import CalendarError, TokenHolder
from app.calendars.connections import client_for_tokens, connections_of_users, token_cipher
from app.calendars.tokens import TokenDecryptError
from app.config import Settings, get_settings
from app.db import begin_write
from app.models import CalendarConnection, CalendarProvider, ConnectionState
from app.scheduling.windows import TimeRange

logger = logging.getLogger(__name__)

MAX_CACHE_ENTRIES = 2048


@dataclass(frozen=True)
class BusyResult:
    ranges: list[TimeRange] = field(default_factory=list)
    # "<account email> (<provider>)" of each calendar that could not be checked.
    unchecked: list[str] = field(default_factory=list)
    # Token ciphertexts refreshed by the provider clients meanwhile, by connection id.
    refreshed: dict[uuid.UUID, str] = field(default_factory=dict)


# The cache's clock; tests move it forward to see entries expire.
monotonic = time.monotonic

_CacheKey = tuple[uuid.UUID, datetime, datetime]
_cache: dict[_CacheKey, tuple[float, list[TimeRange]]] = {}


def clear_busy_cache() -> None:
    _cache.clear()


@dataclass(frozen=True)
class ConnectionToAsk:
    """What asking one connection needs, read before the call so no session is held."""

    id: uuid.UUID
    user_id: uuid.UUID
    provider: CalendarProvider
    state: ConnectionState
    token_ciphertext: str
    calendar_id: str
    account_email: str

    @property
    def label(self) -> str:
        return f"{self.account_email} ({self.provider.value.title()})"


async def connections_to_ask(
    session: AsyncSession, user_ids: Sequence[uuid.UUID]
) -> list[ConnectionToAsk]:
    """The users' connections, as plain values that outlive the read transaction."""
    return [
        ConnectionToAsk(
            id=c.id,
            user_id=c.user_id,
            provider=c.provider,
            state=c.state,
            token_ciphertext=c.token_ciphertext,
            calendar_id=c.calendar_id,
            account_email=c.account_email,
        )
        for c in await connections_of_users(session=session, user_ids=user_ids)
    ]


async def ask_calendars(
    connections: Sequence[ConnectionToAsk],
    start: datetime,
    end: datetime,
    *,
    settings: Settings,
) -> BusyResult:
    """Busy ranges of these connected calendars overlapping [start, end).

    No database here: call it with no transaction open (a provider may take seconds), then
    write `refreshed` with `keep_refreshed_tokens` in the transaction that follows.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware")
    cipher = token_cipher(settings.secret_key)
    result = BusyResult()

    async def one(connection: ConnectionToAsk) -> list[TimeRange] | None:
        if connection.state is not ConnectionState.CONNECTED:
            return None
        key = (connection.id, start, end)
        cached = _cache.get(key)
        if cached is not None and cached[0] > monotonic():
            return cached[1]
        try:
            holder = TokenHolder(cipher.decrypt(connection.token_ciphertext))
        except TokenDecryptError:
            logger.warning("tokens of calendar connection %s cannot be decrypted", connection.id)
            return None
        client = client_for_tokens(
            settings,
            connection.provider,
            holder,
            calendar_id=connection.calendar_id,
            account_email=connection.account_email,
        )
        try:
            ranges = await client.busy(start, end)
        except CalendarError as exc:
            logger.info("free/busy of connection %s failed: %r", connection.id, exc)
            return None
        finally:
            client.close()
            if client.tokens_changed:
                result.refreshed[connection.id] = cipher.encrypt(client.tokens)
        _remember(key, ranges, settings.freebusy_cache_seconds)
        return ranges

    answers = await asyncio.gather(*(one(c) for c in connections))
    for connection, ranges in zip(connections, answers, strict=True):
        if ranges is None:
            result.unchecked.append(connection.label)
        else:
            result.ranges.extend(r for r in ranges if r.start < end and start < r.end)
    result.ranges.sort()
    return result


async def keep_refreshed_tokens(session: AsyncSession, result: BusyResult) -> None:
    """Store the tokens a provider client refreshed while asking, in the caller's transaction."""
    for connection_id, ciphertext in sorted(result.refreshed.items()):
        connection = await session.get(CalendarConnection, connection_id)
        if connection is not None:
            connection.token_ciphertext = ciphertext


async def calendar_busy(
    session: AsyncSession,
    user_ids: Sequence[uuid.UUID],
    start: datetime,
    end: datetime,
    *,
    settings: Settings | None = None,
) -> BusyResult:
    """`connections_to_ask`, `ask_calendars` and `keep_refreshed_tokens` in one call.

    Only for callers with no transaction to protect (tests, scripts): the provider is asked
    while the session's read is open. The booking flow calls the three steps itself.
    """
    settings = settings or get_settings()
    connections = await connections_to_ask(session, user_ids)
    if not connections:
        return BusyResult()
    result = await ask_calendars(connections, start, end, settings=settings)
    await keep_refreshed_tokens(session, result)
    return result


@dataclass(frozen=True)
class BusyByUser:
    """Busy time per user, for rules that must say whose calendar is busy."""

    ranges: dict[uuid.UUID, list[TimeRange]] = field(default_factory=dict)
    # Users with a connection that could not be read: "<account> (<provider>)".
    unchecked: dict[uuid.UUID, str] = field(default_factory=dict)
    # Users with no calendar connection at all.
    unconnected: set[uuid.UUID] = field(default_factory=set)


async def calendar_busy_by_user(
    session: AsyncSession,
    user_ids: Sequence[uuid.UUID],
    start: datetime,
    end: datetime,
    *,
    settings: Settings | None = None,
) -> BusyByUser:
    """Like `calendar_busy`, kept apart per user (same provider calls, same cache).

    For read-only queries: the session's read is ended before any provider is asked, and
    refreshed tokens are written in a short transaction after.
    """
    settings = settings or get_settings()
    connections = await connections_to_ask(session, user_ids)
    result = BusyByUser(unconnected=set(user_ids) - {c.user_id for c in connections})
    if not connections:
        return result
    if session.in_transaction():
        await session.commit()
    answers = await asyncio.gather(
        *(ask_calendars([c], start, end, settings=settings) for c in connections)
    )
    refreshed = BusyResult()
    for connection, answer in zip(connections, answers, strict=True):
        refreshed.refreshed.update(answer.refreshed)
        if answer.unchecked:
            result.unchecked[connection.user_id] = connection.label
        else:
            result.ranges.setdefault(connection.user_id, []).extend(answer.ranges)
    for ranges in result.ranges.values():
        ranges.sort()
    if refreshed.refreshed:
        await begin_write(session)
        await keep_refreshed_tokens(session, refreshed)
        await session.commit()
    return result


def _remember(key: _CacheKey, ranges: list[TimeRange], ttl: int) -> None:
    if ttl <= 0:
        return
    now = monotonic()
    if len(_cache) >= MAX_CACHE_ENTRIES:
        for stale in [k for k, (expires, _) in _cache.items() if expires <= now]:
            del _cache[stale]
        if len(_cache) >= MAX_CACHE_ENTRIES:
            _cache.clear()
    _cache[key] = (now + ttl, list(ranges))
