"""Rate limits (SPEC section 5): mutations per token, failed authentications per client
address, OAuth starts per user.

Counters are fixed windows that start at a key's first hit, kept by the `limits` library in
Redis when configured (so every API process shares them) or in this process's memory (the
embedded default is one process). A refusal carries the seconds until the window ends, for
`Retry-After`.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from app.config import Settings

logger = logging.getLogger(__name__)

KEY_PREFIX = "roundtable"


class Rule(enum.StrEnum):
    MUTATIONS = "mutations"  # per API token
    FAILED_AUTH = "failed_auth"  # per client address
    OAUTH_STARTS = "oauth_starts"  # per user


@dataclass(frozen=True)
class Refusal:
    rule: Rule
    retry_after: int  # whole seconds, at least 1

    @property
    def message(self) -> str:
        what = {
            Rule.MUTATIONS: "Too many changes with this token",
            Rule.FAILED_AUTH: "Too many failed sign-ins from this address",
            Rule.OAUTH_STARTS: "Too many calendar connections started",
        }[self.rule]
        return f"{what}; try again in {self.retry_after} seconds."


def _storage(settings: Settings, key_prefix: str) -> Storage:
    url = settings.rate_limit_store
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        storage = storage_from_string("async+memory://")
    else:
        # redis-py (already a dependency through Dramatiq) rather than limits' default coredis.
        storage = storage_from_string(
            f"async+{url}", implementation="redispy", key_prefix=key_prefix, wrap_exceptions=True
        )
    assert isinstance(storage, Storage)
    return storage


class RateLimiter:
    """One per API process; all its methods answer None (allowed) when limits are off."""

    def __init__(self, settings: Settings, *, key_prefix: str = KEY_PREFIX) -> None:
        self.enabled = settings.rate_limits
        self.items: dict[Rule, RateLimitItem] = {
            Rule.MUTATIONS: parse(settings.rate_limit_mutations),
            Rule.FAILED_AUTH: parse(settings.rate_limit_failed_auth),
            Rule.OAUTH_STARTS: parse(settings.rate_limit_oauth_starts),
        }
        self.shared = urlsplit(settings.rate_limit_store).scheme != "memory"
        self._storage = _storage(settings, key_prefix) if self.enabled else None
        self._strategy = FixedWindowRateLimiter(self._storage) if self._storage else None

    async def aclose(self) -> None:
        """Close the Redis connections, if any (at the app's shutdown)."""
        # limits keeps the redis-py client on its bridge and offers no close of its own.
        client: Any = getattr(getattr(self._storage, "bridge", None), "storage", None)
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()

    async def hit(self, rule: Rule, key: str, *, cost: int = 1) -> Refusal | None:
        """Count `cost` against the limit; a Refusal when that goes past it."""
        if self._strategy is None:
            return None
        item = self.items[rule]
        try:
            if await self._strategy.hit(item, rule.value, key, cost=cost):
                return None
            return await self._refusal(rule, key)
        except StorageError as exc:
            return self._fail_open(exc)

    async def check(self, rule: Rule, key: str) -> Refusal | None:
        """A Refusal when the limit is already used up, without counting anything."""
        if self._strategy is None:
            return None
        try:
            if await self._strategy.test(self.items[rule], rule.value, key):
                return None
            return await self._refusal(rule, key)
        except StorageError as exc:
            return self._fail_open(exc)

    async def _refusal(self, rule: Rule, key: str) -> Refusal:
        assert self._strategy is not None
        stats = await self._strategy.get_window_stats(self.items[rule], rule.value, key)
        return Refusal(rule, max(1, math.ceil(stats.reset_time - time.time())))

    @staticmethod
    def _fail_open(exc: StorageError) -> None:
        # An unreachable counter store must not take the API down with it: let the request
        # through and say so loudly.
        logger.warning("rate-limit store unavailable, request allowed: %s", exc.storage_error)
        return None
