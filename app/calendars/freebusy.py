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

from app.calendars.base import CalendarError
from app.calendars.connections import (
    client_for,
    connections_of_users,
    store_refreshed_tokens,
)
from app.calendars.tokens import TokenDecryptError
from app.config import Settings, get_settings
from app.models import CalendarConnection, ConnectionState
from app.scheduling.windows import TimeRange

logger = logging.getLogger(__name__)

MAX_CACHE_ENTRIES = 2048


@dataclass(frozen=True)
class BusyResult:
    ranges: list[TimeRange] = field(default_factory=list)
    # "<account email> (<provider>)" of each calendar that could not be checked.
    unchecked: list[str] = field(default_factory=list)


# The cache's clock; tests move it forward to see entries expire.
monotonic = time.monotonic

_CacheKey = tuple[uuid.UUID, datetime, datetime]
_cache: dict[_CacheKey, tuple[float, list[TimeRange]]] = {}


def clear_busy_cache() -> None:
    _cache.clear()


def _label(connection: CalendarConnection) -> str:
    return f"{connection.account_email} ({connection.provider.value.title()})"


async def calendar_busy(
    session: AsyncSession,
    user_ids: Sequence[uuid.UUID],
    start: datetime,
    end: datetime,
    *,
    settings: Settings | None = None,
) -> BusyResult:
    """Busy ranges of these users' connected calendars overlapping [start, end).

    Refreshed tokens are written to the connection rows in `session` (flushed by the
    caller's commit, if any); nothing here commits or raises for a provider's failure.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware")
    settings = settings or get_settings()
    connections = await connections_of_users(session=session, user_ids=user_ids)
    if not connections:
        return BusyResult()
    answers = await asyncio.gather(*(_busy_of(c, start, end, settings) for c in connections))
    result = BusyResult()
    for connection, ranges in zip(connections, answers, strict=True):
        if ranges is None:
            result.unchecked.append(_label(connection))
        else:
            result.ranges.extend(r for r in ranges if r.start < end and start < r.end)
    result.ranges.sort()
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
    """Like `calendar_busy`, kept apart per user (same provider calls, same cache)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware")
    settings = settings or get_settings()
    connections = await connections_of_users(session=session, user_ids=user_ids)
    answers = await asyncio.gather(*(_busy_of(c, start, end, settings) for c in connections))
    result = BusyByUser(unconnected=set(user_ids) - {c.user_id for c in connections})
    for connection, ranges in zip(connections, answers, strict=True):
        if ranges is None:
            result.unchecked[connection.user_id] = _label(connection)
        else:
            result.ranges.setdefault(connection.user_id, []).extend(
                r for r in ranges if r.start < end and start < r.end
            )
    for ranges in result.ranges.values():
        ranges.sort()
    return result


async def _busy_of(
    connection: CalendarConnection, start: datetime, end: datetime, settings: Settings
) -> list[TimeRange] | None:
    """One connection's busy time, from the cache or the provider; None if unreadable."""
    if connection.state is not ConnectionState.CONNECTED:
        return None
    key = (connection.id, start, end)
    cached = _cache.get(key)
    if cached is not None and cached[0] > monotonic():
        return cached[1]
    try:
        client = client_for(connection, settings)
    except TokenDecryptError:
        logger.warning("tokens of calendar connection %s cannot be decrypted", connection.id)
        return None
    try:
        ranges = await client.busy(start, end)
    except CalendarError as exc:
        logger.info("free/busy of connection %s failed: %r", connection.id, exc)
        return None
    finally:
        client.close()
        store_refreshed_tokens(connection, client, settings)
    _remember(key, ranges, settings.freebusy_cache_seconds)
    return ranges


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
