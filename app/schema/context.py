"""The per-request context: viewer, settings, and the only ways to reach the database.

GraphQL resolves sibling fields concurrently, while an AsyncSession allows one operation
at a time. So the request's session is not an attribute of the context: a resolver reaches
it through `async with info.context.db() as session:` (which holds the session's lock),
through the DataLoaders (which take the same lock), or through `unit_of_work` (likewise).
Forgetting the lock is then impossible rather than merely a mistake to avoid.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import InitVar, dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from app.access import Viewer
from app.config import Settings
from app.db import begin_write
from app.errors import ErrorCode, FieldError, ServiceError
from app.links.access import LinkAccess, LinkAction, LinkRefusal
from app.live.changes import Change, pop_committed
from app.live.feed import Feed
from app.models import utcnow
from app.outbox.enqueue import OUTBOX_WRITTEN
from app.ratelimit import RateLimiter
from app.schema.loaders import Loaders

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Transient conflicts PostgreSQL asks the client to retry: serialization failure, deadlock.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
MAX_ATTEMPTS = 4

request_session: ContextVar[AsyncSession] = ContextVar("request_session")


@dataclass
class Context:
    request: Request
    session: InitVar[AsyncSession]  # kept private: reach it through db() (module docstring)
    settings: Settings
    viewer: Viewer | None
    loaders: Loaders = field(init=False)
    _lock: asyncio.Lock = field(init=False, repr=False)
    _session: AsyncSession = field(init=False, repr=False)
    on_outbox_written: Callable[[], None] | None = None
    clock: Callable[[], datetime] = field(default=utcnow)
    # A mail link in X-Roundtable-Link (when no bearer token is sent): one interview only.
    link: LinkAccess | None = None
    link_refusal: LinkRefusal | None = None
    rate_limiter: RateLimiter | None = None
    token_id: uuid.UUID | None = None  # the API token the viewer authenticated with
    response: Any = None  # Strawberry's sub-response: status and headers of the answer
    # Where committed changes are published for subscriptions (app.live.feed).
    feed: Feed | None = None
    # Over a WebSocket: connection_init's payload, and the token it authenticated with.
    connection_params: dict[str, Any] | None = None
    bearer_token: str | None = None

    def __post_init__(self, session: AsyncSession) -> None:
        self._session = session
        self._lock = asyncio.Lock()
        self.loaders = Loaders(session, self._lock)

    def require_viewer(self) -> Viewer:
        # The IsAuthenticated permission on every root field guarantees this.
        assert self.viewer is not None
        return self.viewer

    @asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncSession]:
        """The request's session, held alone for the duration of the block.

        Keep the block to database work: every other resolver of the request waits for it.
        The lock is not re-entrant, so do not load through `loaders` inside the block.
        """
        async with self._lock:
            yield self._session

    def acting_viewer(self, interview_id: uuid.UUID, action: LinkAction) -> Viewer:
        """The bearer token's user, or the candidate of a link allowed to do `action` here."""
        if self.viewer is not None:
            return self.viewer
        link = self.link
        if link is None or link.interview_id != interview_id:
            raise ServiceError.one(ErrorCode.NOT_FOUND, "interview not found", "interviewId")
        viewer = link.viewer
        if viewer is None or not link.allows(interview_id, action):
            raise ServiceError.one(
                ErrorCode.FORBIDDEN, "this link lets you view the interview only", "interviewId"
            )
        return viewer

    async def unit_of_work(
        self, work: Callable[[AsyncSession], Awaitable[T]]
    ) -> tuple[T | None, list[FieldError]]:
        """Run `work`, commit once; a user's mistake rolls back and comes back as errors.

        PostgreSQL serialization failures and deadlocks are retried here, so they never
        reach a client.
        """
        async with self.db() as session:
            result, errors = await self._unit_of_work(session, work)
        if not errors:
            # Loaders may hold rows read before the change: start afresh.
            self.loaders = Loaders(session, self._lock)
            if session.info.pop(OUTBOX_WRITTEN, False) and self.on_outbox_written:
                self.on_outbox_written()
            await self._publish(pop_committed(session))
        return result, errors

    async def _publish(self, changes: list[Change]) -> None:
        if not changes or self.feed is None:
            return
        try:
            await self.feed.publish(changes)
        except Exception:
            # Committed already: a subscriber misses a live update, the data is intact.
            logger.warning("live updates: publishing failed", exc_info=True)

    async def release(self) -> None:
        """Between a subscription's events: give the connection back and forget every row
        read, so the next event is read afresh (and nothing is held while idle)."""
        async with self._lock:
            await self._session.close()
            self.loaders = Loaders(self._session, self._lock)

    @staticmethod
    async def _unit_of_work(
        session: AsyncSession, work: Callable[[AsyncSession], Awaitable[T]]
    ) -> tuple[T | None, list[FieldError]]:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                await begin_write(session)
                result = await work(session)
                await session.commit()
            except ServiceError as exc:
                await session.rollback()
                return None, exc.errors
            except DBAPIError as exc:
                await session.rollback()
                state = getattr(exc.orig, "sqlstate", None)
                if state in RETRYABLE_SQLSTATES and attempt < MAX_ATTEMPTS:
                    logger.info("retrying after SQLSTATE %s (attempt %d)", state, attempt)
                    continue
                raise
            except BaseException:
                await session.rollback()
                raise
            return result, []
        raise AssertionError("unreachable")


Info = strawberry.Info[Context, Any]
