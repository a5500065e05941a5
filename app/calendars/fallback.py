"""A calendar Roundtable can no longer reach: the interviews it held go by mail instead.

When a provider refuses our tokens for good (access revoked, `invalid_grant`), the
connection becomes BROKEN and its owner is told once, in-app and by mail. Every interview
copy that calendar held or was about to hold is then mailed instead, as members without a
calendar get it: the invitation of a booked interview (iCalendar REQUEST), the cancellation
of a cancelled one whose event could not be removed (CANCEL). Those participants read
DISCONNECTED, with what happened and what to do.

Several workers may meet the refusal at once (a sync, the reconcile sweep), so both steps
are claims, conditional UPDATEs of which one wins: the connection's CONNECTED -> BROKEN (so
the owner is told once), and each event row's move to FAILED with `REVOKED` (so each copy
is mailed once). A copy whose row was written after the connection broke (a booking racing
the refusal) is claimed by the next sync of its interview (`app.calendars.sync_plan`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

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
from app.notifications.service import Recipient, tell, user_recipient
from app.notifications.text import when

REVOKED = "access was revoked"
INVITE_MAILED = (
    "calendar access was revoked: the invitation was mailed instead; "
    "connect the calendar again to have interviews written to it"
)
CANCEL_MAILED = (
    "calendar access was revoked: the cancellation was mailed instead; "
    "the event may stay in the calendar until removed by hand"
)
LEFT_BEHIND = "calendar access was revoked: the interview is over, nothing was mailed"


def _unclaimed() -> ColumnElement[bool]:
    """An event row still to be mailed: not removed, and not mailed instead already (the
    claim leaves it FAILED with `REVOKED`, keeping its id for a reconnect to update)."""
    return and_(
        CalendarEvent.state != CalendarEventState.DELETED,
        or_(CalendarEvent.last_error.is_(None), CalendarEvent.last_error != REVOKED),
    )


def calendar_name(provider: CalendarProvider) -> str:
    return "Google Calendar" if provider is CalendarProvider.GOOGLE else "Outlook calendar"


async def lose_connection(
    session: AsyncSession, connection_id: uuid.UUID, *, reason: str, now: datetime
) -> bool:
    """The provider refused the connection's tokens for good. Returns whether this call
    broke it (False: broken already, or gone); only then is its owner told."""
    broken = await session.execute(
        update(CalendarConnection)
        .where(
            CalendarConnection.id == connection_id,
            CalendarConnection.state == ConnectionState.CONNECTED,
        )
        .values(state=ConnectionState.BROKEN, broken_reason=reason, broken_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(broken, "rowcount", 0):
        return False
    connection = await session.get(CalendarConnection, connection_id, populate_existing=True)
    assert connection is not None  # just updated, in this transaction
    owner = await session.get(User, connection.user_id)
    if owner is not None:
        tell(
            session,
            recipients=[user_recipient(owner)],
            kind=MessageKind.CALENDAR_DISCONNECTED,
            interview=None,
            message=(
                f"Roundtable can no longer reach your {calendar_name(connection.provider)} "
                f"({connection.account_email}): {reason}. Your interviews come by mail from "
                "now on, and busy times in that calendar are not checked, until you connect "
                "it again."
            ),
        )
    events = await session.scalars(
        select(CalendarEvent.id).where(CalendarEvent.connection_id == connection_id, _unclaimed())
    )
    for event_id in list(events):
        await mail_instead(session, event_id, now=now)
    return True


async def mail_instead(session: AsyncSession, event_id: uuid.UUID, *, now: datetime) -> bool:
    """Claim one copy in a calendar that cannot be reached and mail it to its member.

    Returns whether this call claimed it (False: mailed already, removed, or failed)."""
    claimed = await session.execute(
        update(CalendarEvent)
        .where(CalendarEvent.id == event_id, _unclaimed())
        .values(state=CalendarEventState.FAILED, last_error=REVOKED, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(claimed, "rowcount", 0):
        return False
    event = await session.get(CalendarEvent, event_id, populate_existing=True)
    assert event is not None
    interview = await session.get(Interview, event.interview_id)
    participant = await session.get(Participant, event.participant_id)
    if interview is not None and participant is not None:
        await _mail_copy(session, interview, participant, event.provider, now)
    return True


async def mail_cancellation(
    session: AsyncSession, event_id: uuid.UUID, *, now: datetime
) -> bool:
    """A cancelled interview whose copy sits in (or was mailed instead of) a calendar that
    broke, and whose cancellation went to nobody: claim the row (-> DELETED: nothing more
    can be done there) and mail the member the cancellation."""
    claimed = await session.execute(
        update(CalendarEvent)
        .where(CalendarEvent.id == event_id, CalendarEvent.state != CalendarEventState.DELETED)
        .values(state=CalendarEventState.DELETED, last_error=REVOKED, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(claimed, "rowcount", 0):
        return False
    event = await session.get(CalendarEvent, event_id, populate_existing=True)
    assert event is not None
    interview = await session.get(Interview, event.interview_id)
    participant = await session.get(Participant, event.participant_id)
    if interview is not None and participant is not None:
        await _mail_copy(session, interview, participant, event.provider, now)
    return True


async def mail_unwritten(
    session: AsyncSession,
    interview: Interview,
    participant: Participant,
    provider: CalendarProvider,
    *,
    now: datetime,
) -> bool:
    """A booked interview the sync never wrote to the member's calendar, which broke first:
    claim the participant (still PENDING) and mail the invitation instead."""
    claimed = await session.execute(
        update(Participant)
        .where(Participant.id == participant.id, Participant.sync_state == SyncState.PENDING)
        .values(sync_state=SyncState.DISCONNECTED)
        .execution_options(synchronize_session=False)
    )
    if not getattr(claimed, "rowcount", 0):
        return False
    await session.refresh(participant)
    await _mail_copy(session, interview, participant, provider, now)
    return True


async def _mail_copy(
    session: AsyncSession,
    interview: Interview,
    participant: Participant,
    provider: CalendarProvider | None,
    now: datetime,
) -> None:
    member = await session.get(User, participant.user_id) if participant.user_id else None
    if member is None:
        return
    participant.sync_state = SyncState.DISCONNECTED
    start = interview.booked_start
    if start is None or (interview.booked_end is not None and interview.booked_end <= now):
        participant.sync_error = LEFT_BEHIND
        return
    name = calendar_name(provider) if provider else "calendar"
    if interview.status is InterviewStatus.CANCELLED:
        kind, method = MessageKind.INTERVIEW_CANCELLED, InviteMethod.CANCEL
        participant.sync_error = CANCEL_MAILED
        message = (
            f"The interview of {when(start, member.time_zone)} was cancelled; your {name} "
            "can no longer be reached, so remove the event by hand if it is still there."
        )
    else:
        kind, method = MessageKind.INTERVIEW_BOOKED, InviteMethod.REQUEST
        participant.sync_error = INVITE_MAILED
        message = (
            f"The interview of {when(start, member.time_zone)}, by mail: your {name} can "
            "no longer be reached."
        )
    # The mail a member without a calendar gets (the booking's or the cancellation's, with
    # its invite), and by mail only: the member was told of the disconnection once, when
    # the connection broke, and is not told again with every interview.
    tell(
        session,
        recipients=[Recipient(email=member.email, time_zone=member.time_zone, invite=method)],
        kind=kind,
        interview=interview,
        message=message,
    )
