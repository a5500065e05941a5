"""When the reconcile sweep runs: periodically per connected calendar, and on demand.

Each run is a calendar_sync outbox row naming one connection (see
`app.calendars.reconcile`), so it is delivered, retried and shown to admins like any other.
The periodic half runs in every worker's sweep (`app.workers.actors.sweep`); conditional
UPDATEs make each connection due once per period however many workers sweep.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.calendars.disconnect import DISCONNECT_KEY
from app.calendars.reconcile import RECONCILE_KEY
from app.db import begin_write
from app.errors import ErrorCode, ServiceError
from app.models import CalendarConnection, ConnectionState
from app.outbox.enqueue import enqueue
from app.outbox.topics import SYNC_TOPIC

BATCH = 200


async def request_reconciles(
    *, session: AsyncSession, connection_id: uuid.UUID | None, now: datetime
) -> int:
    """On demand (admins): one connection, or every connected one; returns rows queued."""
    query = select(CalendarConnection).where(CalendarConnection.state == ConnectionState.CONNECTED)
    if connection_id is not None:
        query = query.where(CalendarConnection.id == connection_id)
    connections = list(await session.scalars(query.order_by(CalendarConnection.id)))
    if connection_id is not None and not connections:
        raise ServiceError.one(
            ErrorCode.NOT_FOUND, "no connected calendar with this id", "connectionId"
        )
    for connection in connections:
        connection.reconcile_requested_at = now
        enqueue(session, topic=SYNC_TOPIC, payload={RECONCILE_KEY: str(connection.id)})
    return len(connections)


async def request_due_reconciles(
    *, sessions: async_sessionmaker[AsyncSession], period: timedelta, now: datetime
) -> int:
    """The periodic half: one reconcile row per connection not asked for within `period`.

    Safe in every worker process at once: each connection is claimed by a conditional
    UPDATE in the transaction that writes its row.
    """
    cutoff = now - period
    due = or_(
        CalendarConnection.reconcile_requested_at.is_(None),
        CalendarConnection.reconcile_requested_at <= cutoff,
    )
    queued = 0
    async with sessions() as session:
        await begin_write(session)
        ids = list(
            await session.scalars(
                select(CalendarConnection.id)
                .where(CalendarConnection.state == ConnectionState.CONNECTED, due)
                .order_by(CalendarConnection.reconcile_requested_at.nulls_first())
                .limit(BATCH)
            )
        )
        for connection_id in ids:
            claimed = await session.execute(
                update(CalendarConnection)
                .where(CalendarConnection.id == connection_id, due)
                .values(reconcile_requested_at=now)
                .execution_options(synchronize_session=False)
            )
            if getattr(claimed, "rowcount", 0) == 1:
                enqueue(session, topic=SYNC_TOPIC, payload={RECONCILE_KEY: str(connection_id)})
                queued += 1
        queued += await _retry_stale_disconnects(session, cutoff, now)
        await session.commit()
    return queued


async def _retry_stale_disconnects(session: AsyncSession, cutoff: datetime, now: datetime) -> int:
    """A disconnect whose job failed for good (a bug, an outage) must not stay half done:
    it is queued again (the job is idempotent), once per period."""
    stale = (
        CalendarConnection.state == ConnectionState.DISCONNECTING,
        CalendarConnection.updated_at <= cutoff,
    )
    ids = list(await session.scalars(select(CalendarConnection.id).where(*stale).limit(BATCH)))
    queued = 0
    for connection_id in ids:
        claimed = await session.execute(
            update(CalendarConnection)
            .where(CalendarConnection.id == connection_id, *stale)
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) == 1:
            enqueue(session, topic=SYNC_TOPIC, payload={DISCONNECT_KEY: str(connection_id)})
            queued += 1
    return queued
