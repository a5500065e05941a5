"""A user's in-app notifications: listing and marking read."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ErrorCode, FieldError, ServiceError
from app.models import Notification
from app.pagination import Cursor


async def notifications_of(
    *,
    session: AsyncSession,
    user_id: uuid.UUID,
    unread_only: bool,
    first: int,
    after: Cursor | None,
) -> tuple[Sequence[Notification], bool]:
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if after is not None:
        query = query.where(
            or_(
                Notification.created_at < after.at,
                and_(Notification.created_at == after.at, Notification.id < after.id),
            )
        )
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc())
    rows = list(await session.scalars(query.limit(first + 1)))
    return rows[:first], len(rows) > first


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
