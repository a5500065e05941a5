"""Disconnecting a calendar: Roundtable's events leave it, and the person stays informed.

The mutation cannot call the provider (slow, and it may refuse), so it marks the connection
DISCONNECTING and queues a job (a calendar_sync row naming the connection). The job deletes
every event Roundtable wrote there, then forgets the connection and its tokens. For each
booked interview the member is then sent the invitation by mail, as members without a
calendar are, so a later change or cancellation reaches them by mail too.

When the provider refuses (access revoked, a permanent error, or attempts run out) the
events stay in that calendar: the participant's sync state says so (FAILED, with what to do)
and later changes are mailed. A connection with nothing written is forgotten at once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.calendars import providers
from app.calendars.base import (
    AuthExpired,
    CalendarError,
    Gone,
    Retryable,
    Revoked,
    event_key,
)
from app.calendars.connections import client_for, connection_of
from app.calendars.tokens import TokenDecryptError
from app.config import Settings
from app.db import begin_write
from app.models import (
    CalendarConnection,
    CalendarEvent,
    CalendarEventState,
    CalendarProvider,
    ConnectionState,
    Interview,
    InterviewStatus,
    Participant,
    SyncState,
    User,
)
from app.notifications.kinds import InviteMethod, MessageKind
from app.notifications.service import tell, user_recipient
from app.notifications.text import when
from app.outbox.enqueue import enqueue
from app.participants import state as sync_state

logger = logging.getLogger(__name__)

# Payload key of a calendar_sync outbox row that empties a disconnected calendar.
DISCONNECT_KEY = "disconnect_connection_id"
MAX_ERROR = 1000


def _name(provider: CalendarProvider) -> str:
    return providers.spec(provider).name


async def start_disconnect(
    *, session: AsyncSession, user_id: uuid.UUID, provider: CalendarProvider, now: datetime
) -> bool:
    """The mutation's half; False when no such connection is (still) connected."""
    connection = await connection_of(session=session, user_id=user_id, provider=provider)
    if connection is None or connection.state is ConnectionState.DISCONNECTING:
        return False
    written = await session.scalar(
        select(
            exists().where(
                CalendarEvent.connection_id == connection.id,
                CalendarEvent.state != CalendarEventState.DELETED,
            )
        )
    )
    if not written:
        await _mail_unwritten(session, connection, now)
        await session.delete(connection)
        return True
    connection.state = ConnectionState.DISCONNECTING
    connection.updated_at = now
    enqueue(session, topic="calendar_sync", payload={DISCONNECT_KEY: str(connection.id)})
    return True


@dataclass
class DisconnectResult:
    removed: int = 0
    left: int = 0
    pending: int = 0
    retry_after: float | None = None
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Target:
    event_id: uuid.UUID
    provider_event_id: str


async def remove_connection_events(
    *,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    connection_id: uuid.UUID,
    clock: Callable[[], datetime],
    final_attempt: bool = False,
) -> DisconnectResult:
    result = DisconnectResult()
    async with sessions() as session:
        connection = await session.get(CalendarConnection, connection_id)
        if connection is None or connection.state is not ConnectionState.DISCONNECTING:
            await session.commit()
            return result  # done already, or connected again meanwhile
        targets = [
            _Target(e.id, e.provider_event_id or event_key(e.interview_id, e.participant_id))
            for e in await session.scalars(
                select(CalendarEvent).where(
                    CalendarEvent.connection_id == connection.id,
                    CalendarEvent.state != CalendarEventState.DELETED,
                )
            )
            if e.provider_event_id or providers.spec(e.provider).client_chosen_event_ids
        ]
        session.expunge(connection)
        await session.commit()
    removed: set[uuid.UUID] = set()
    left: dict[uuid.UUID, str] = {}
    refusal: str | None = None
    try:
        client = client_for(connection, settings)
    except TokenDecryptError as exc:
        client, refusal = None, f"the stored access cannot be read ({exc})"
    for target in targets:
        if client is None or refusal is not None:
            left[target.event_id] = refusal or "not reachable"
            continue
        try:
            await client.delete_event(target.provider_event_id)
            removed.add(target.event_id)
        except Gone:
            removed.add(target.event_id)
        except Revoked:
            refusal = "access was revoked"
            left[target.event_id] = refusal
        except (Retryable, AuthExpired) as exc:
            result.errors.append(str(exc))
            if final_attempt:
                left[target.event_id] = "the provider did not answer"
            else:
                result.pending += 1
                if isinstance(exc, Retryable) and exc.retry_after:
                    result.retry_after = max(exc.retry_after, result.retry_after or 0.0)
        except CalendarError as exc:
            left[target.event_id] = f"the provider refused: {exc}"[:MAX_ERROR]
    if client is not None:
        client.close()
    result.removed, result.left = len(removed), len(left)
    await _record(sessions, connection_id, removed, left, done=not result.pending, now=clock())
    return result


async def _record(
    sessions: async_sessionmaker[AsyncSession],
    connection_id: uuid.UUID,
    removed: set[uuid.UUID],
    left: dict[uuid.UUID, str],
    *,
    done: bool,
    now: datetime,
) -> None:
    async with sessions() as session:
        await begin_write(session)
        connection = await session.get(CalendarConnection, connection_id)
        if connection is None or connection.state is not ConnectionState.DISCONNECTING:
            await session.commit()
            return
        name = _name(connection.provider)
        for event_id in sorted(removed | set(left)):
            event = await session.get(CalendarEvent, event_id)
            if event is None:
                continue
            event.updated_at = now
            if event_id in removed:
                event.state = CalendarEventState.DELETED
                event.last_error = None
            else:
                event.state = CalendarEventState.FAILED
                event.last_error = f"left in the disconnected calendar: {left[event_id]}"
            interview = await session.get(Interview, event.interview_id)
            participant = await session.get(Participant, event.participant_id)
            if interview is None or participant is None:
                continue
            live = interview.status is InterviewStatus.BOOKED
            if event_id in left:
                reason = (
                    f"the {name} was disconnected and Roundtable could not remove the "
                    f"interview from it ({left[event_id]}); "
                    + ("changes are sent by mail" if live else "remove it by hand")
                )
                sync_state.failed(participant, reason[:MAX_ERROR])
            elif live:
                await _mail_invite(session, connection, interview, participant, now)
        if done:
            await _mail_unwritten(session, connection, now)
            await session.delete(connection)
        await session.commit()


async def _mail_invite(
    session: AsyncSession,
    connection: CalendarConnection,
    interview: Interview,
    participant: Participant,
    now: datetime,
) -> None:
    """The interview left the member's calendar: the invitation comes by mail instead."""
    user = await session.get(User, connection.user_id)
    if (
        user is None
        or interview.booked_start is None
        or (interview.booked_end is not None and interview.booked_end <= now)
    ):
        return
    sync_state.awaiting(participant)  # SYNCED once the invite mail is handed over
    tell(
        session,
        recipients=[user_recipient(user, InviteMethod.REQUEST)],
        kind=MessageKind.CALENDAR_DISCONNECTED,
        interview=interview,
        message=(
            f"Your {_name(connection.provider)} was disconnected, so the interview of "
            f"{when(interview.booked_start, user.time_zone)} was removed from it. The "
            "invitation is attached; changes will reach you by mail."
        ),
    )


async def _mail_unwritten(
    session: AsyncSession, connection: CalendarConnection, now: datetime
) -> None:
    """Booked interviews the sync had not written yet: the member never got an invite."""
    rows = (
        await session.execute(
            select(Participant, Interview)
            .join(Interview, Interview.id == Participant.interview_id)
            .where(
                Participant.user_id == connection.user_id,
                Participant.sync_state == SyncState.PENDING,
                Interview.status == InterviewStatus.BOOKED,
                Interview.booked_end > now,
                ~exists().where(
                    CalendarEvent.participant_id == Participant.id,
                    CalendarEvent.state != CalendarEventState.DELETED,
                ),
            )
        )
    ).all()
    for participant, interview in rows:
        await _mail_invite(session, connection, interview, participant, now)
