"""What admins see of the outbox and may do with it: list failures, send one again."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ErrorCode, ServiceError, not_found
from app.models import OutboxMessage, OutboxStatus
from app.outbox.enqueue import OUTBOX_WRITTEN
from app.pagination import Cursor, Order, count_rows, fetch_page

FAILED = select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
NEWEST_FIRST = Order(OutboxMessage.created_at, OutboxMessage.id, True, lambda row: row.created_at)


async def failed_messages(
    *, session: AsyncSession, first: int, after: Cursor | None
) -> tuple[Sequence[OutboxMessage], bool]:
    """FAILED rows, newest first, by keyset on (created_at, id)."""
    return await fetch_page(session, FAILED, NEWEST_FIRST, first=first, after=after)


async def count_failed_messages(*, session: AsyncSession) -> int:
    return await count_rows(session, FAILED)


async def retry_message(
    *, session: AsyncSession, message_id: uuid.UUID | None, now: datetime
) -> OutboxMessage:
    """A FAILED row becomes PENDING with a fresh set of attempts; the caller commits.

    The relay publishes it right after the commit (the session is marked as having written
    outbox work); the previous reason stays in `last_error` until the next attempt.
    """
    row = (
        await session.get(OutboxMessage, message_id, populate_existing=True)
        if message_id is not None
        else None
    )
    if row is None:
        raise not_found("outbox message", "id")
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row.id, OutboxMessage.status == OutboxStatus.FAILED)
        .values(
            status=OutboxStatus.PENDING,
            attempts=0,
            available_at=now,
            published_at=None,
            processed_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise ServiceError.one(
            ErrorCode.INVALID_STATE,
            f"only a failed message can be retried; this one is {row.status.value.lower()}",
            "id",
        )
    session.info[OUTBOX_WRITTEN] = True
    await session.refresh(row)
    return row
