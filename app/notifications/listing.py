"""A user's in-app notifications: listing and marking read."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ErrorCode, FieldError, ServiceError
from app.models import Notification
from app.pagination import Cursor, Order, count_rows, fetch_page


def notifications_query(
    *, user_id: uuid.UUID, unread_only: bool, kinds: Sequence[str] | None = None
) -> Select[Any]:
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if kinds is not None:
        query = query.where(Notification.kind.in_(kinds))
    return query


NEWEST_FIRST = Order(Notification.created_at, Notification.id, True, lambda row: row.created_at)


async def notifications_of(
    *,
    session: AsyncSession,
    user_id: uuid.UUID,
    unread_only: bool,
    first: int,
    after: Cursor | None,
    kinds: Sequence[str] | None = None,
) -> tuple[Sequence[Notification], bool]:
    query = notifications_query(user_id=user_id, unread_only=unread_only, kinds=kinds)
    return await fetch_page(session, query, NEWEST_FIRST, first=first, after=after)


async def count_notifications(
    *,
    session: AsyncSession,
    user_id: uuid.UUID,
    unread_only: bool,
    kinds: Sequence[str] | None = None,
) -> int:
    query = notifications_query(user_id=user_id, unread_only=unread_only, kinds=kinds)
    return await count_rows(session, query)


async def mark_read(
    *, session: AsyncSession, user_id: uuid.UUID, ids: Sequence[uuid.UUID | None], now: datetime
) -> int:
    """Mark the user's notifications read; any id not theirs fails the whole call."""
    wanted = {i for i in ids if i is not None}
    owned = (
        set(
            await session.scalars(
                select(Notification.id).where(
                    Notification.id.in_(wanted), Notification.user_id == user_id
                )
            )
        )
        if wanted
        else set()
    )
    errors = [
        FieldError(ErrorCode.NOT_FOUND, "notification not found", f"ids.{index}")
        for index, value in enumerate(ids)
        if value is None or value not in owned
    ]
    if errors:
        raise ServiceError(errors)
    if owned:
        await session.execute(
            update(Notification)
            .where(Notification.id.in_(owned), Notification.read_at.is_(None))
            .values(read_at=now)
        )
    return len(owned)
