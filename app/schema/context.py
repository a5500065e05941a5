"""The per-request context: session, viewer, DataLoaders and the unit of work."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
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
from app.models import utcnow
from app.notifications.service import OUTBOX_WRITTEN
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
    session: AsyncSession
    settings: Settings
    viewer: Viewer | None
    loaders: Loaders
    db_lock: asyncio.Lock
    on_outbox_written: Callable[[], None] | None = None
    clock: Callable[[], datetime] = field(default=utcnow)
    # A mail link in X-Roundtable-Link (when no bearer token is sent): one interview only.
    link: LinkAccess | None = None
    link_refusal: LinkRefusal | None = None

    def require_viewer(self) -> Viewer:
        # The IsAuthenticated permission on every root field guarantees this.
        assert self.viewer is not None
        return self.viewer

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
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                await begin_write(self.session)
                result = await work(self.session)
                await self.session.commit()
            except ServiceError as exc:
                await self.session.rollback()
                return None, exc.errors
            except DBAPIError as exc:
                await self.session.rollback()
                state = getattr(exc.orig, "sqlstate", None)
                if state in RETRYABLE_SQLSTATES and attempt < MAX_ATTEMPTS:
                    logger.info("retrying after SQLSTATE %s (attempt %d)", state, attempt)
                    continue
                raise
            except BaseException:
                await self.session.rollback()
                raise
            # Loaders may hold rows read before the change: start afresh.
            self.loaders = Loaders(self.session, self.db_lock)
            if self.session.info.pop(OUTBOX_WRITTEN, False) and self.on_outbox_written:
                self.on_outbox_written()
            return result, []
        raise AssertionError("unreachable")


Info = strawberry.Info[Context, Any]
