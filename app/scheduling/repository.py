"""Every query the scheduling rules need."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import is_postgres
from app.models import (
    AvailabilityWindow,
    CalendarConnection,
    CalendarEvent,
    CalendarEventState,
    ConnectionState,
    Interview,
    InterviewStatus,
    Participant,
    Project,
    Proposal,
    Role,
    SlotReservation,
    User,
)
from app.scheduling.windows import TimeRange


async def get_interview(
    session: AsyncSession, interview_id: uuid.UUID, *, lock: bool = False
) -> Interview | None:
    query = select(Interview).where(Interview.id == interview_id)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query.execution_options(populate_existing=True))).first()


async def get_proposal_and_project(
    session: AsyncSession, proposal_id: uuid.UUID, *, lock: bool = False
) -> tuple[Proposal, Project] | None:
    query = (
        select(Proposal, Project)
        .join(Project, Project.id == Proposal.project_id)
        .where(Proposal.id == proposal_id)
    )
    if lock:
        # Serialises round numbering and state changes on one proposal.
        query = query.with_for_update(of=Proposal)
    row = (await session.execute(query.execution_options(populate_existing=True))).first()
    return None if row is None else (row[0], row[1])


async def next_round(session: AsyncSession, proposal_id: uuid.UUID) -> int:
    """After the last round that took place or still may: a request cancelled before it
    was booked was never a round, so its number is given again."""
    never_booked = (Interview.status == InterviewStatus.CANCELLED) & Interview.booked_start.is_(
        None
    )
    last = await session.scalar(
        select(func.max(Interview.round)).where(Interview.proposal_id == proposal_id, ~never_booked)
    )
    return (last or 0) + 1


async def windows_of(session: AsyncSession, interview_id: uuid.UUID) -> list[AvailabilityWindow]:
    rows = await session.scalars(
        select(AvailabilityWindow)
        .where(AvailabilityWindow.interview_id == interview_id)
        .order_by(AvailabilityWindow.starts_at)
    )
    return list(rows)


async def replace_windows(
    session: AsyncSession, interview_id: uuid.UUID, windows: list[TimeRange]
) -> None:
    await session.execute(
        delete(AvailabilityWindow).where(AvailabilityWindow.interview_id == interview_id)
    )
    add_windows(session, interview_id, windows)


def add_windows(session: AsyncSession, interview_id: uuid.UUID, windows: list[TimeRange]) -> None:
    session.add_all(
        AvailabilityWindow(
            interview_id=interview_id, position=position, starts_at=w.start, ends_at=w.end
        )
        for position, w in enumerate(windows)
    )


async def participants_of(session: AsyncSession, interview_id: uuid.UUID) -> list[Participant]:
    rows = await session.scalars(
        select(Participant)
        .where(Participant.interview_id == interview_id)
        .order_by(Participant.email)
    )
    return list(rows)


async def users_by_ids(session: AsyncSession, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, User]:
    if not ids:
        return {}
    rows = await session.scalars(select(User).where(User.id.in_(ids)))
    return {user.id: user for user in rows}


async def members_by_emails(
    session: AsyncSession, organization_id: uuid.UUID, emails: Collection[str]
) -> dict[str, User]:
    if not emails:
        return {}
    rows = await session.scalars(
        select(User).where(
            User.organization_id == organization_id,
            User.role == Role.HIRING_MEMBER,
            func.lower(User.email).in_(list(emails)),
        )
    )
    return {user.email.lower(): user for user in rows}


async def lock_people(session: AsyncSession, user_ids: Collection[uuid.UUID]) -> None:
    """Row locks on the people about to be booked, always taken in id order.

    The exclusion constraint alone would refuse the second of two overlapping bookings,
    but locking first makes concurrent bookers queue instead of deadlocking on each other.
    """
    if not user_ids or not is_postgres(session):
        return  # SQLite: BEGIN IMMEDIATE already serialises every writer
    await session.execute(
        select(User.id).where(User.id.in_(user_ids)).order_by(User.id).with_for_update()
    )


async def busy_ranges(
    session: AsyncSession,
    user_ids: Collection[uuid.UUID],
    *,
    start: datetime,
    end: datetime,
    exclude_interview_id: uuid.UUID | None = None,
) -> list[TimeRange]:
    """Reserved time of these people between start and end, in one query."""
    if not user_ids:
        return []
    query = select(SlotReservation.starts_at, SlotReservation.ends_at).where(
        SlotReservation.user_id.in_(user_ids),
        SlotReservation.starts_at < end,
        SlotReservation.ends_at > start,
    )
    if exclude_interview_id is not None:
        query = query.where(SlotReservation.interview_id != exclude_interview_id)
    rows = await session.execute(query)
    return [TimeRange(row.starts_at, row.ends_at) for row in rows]


async def release_reservations(session: AsyncSession, interview_id: uuid.UUID) -> None:
    await session.execute(
        delete(SlotReservation).where(SlotReservation.interview_id == interview_id)
    )


async def interviews_of(
    session: AsyncSession, proposal_id: uuid.UUID, status: InterviewStatus
) -> list[Interview]:
    rows = await session.scalars(
        select(Interview)
        .where(Interview.proposal_id == proposal_id, Interview.status == status)
        .order_by(Interview.round, Interview.requested_at)
    )
    return list(rows)


async def members_with_calendar_events(
    session: AsyncSession, interview_id: uuid.UUID
) -> set[uuid.UUID]:
    """Members the calendar sync wrote (or is writing) this interview for, in a calendar
    still connected: one disconnected or broken since cannot be reached, so those members
    are told by mail."""
    rows = await session.scalars(
        select(Participant.user_id)
        .join(CalendarEvent, CalendarEvent.participant_id == Participant.id)
        .join(CalendarConnection, CalendarConnection.id == CalendarEvent.connection_id)
        .where(
            CalendarEvent.interview_id == interview_id,
            CalendarEvent.state != CalendarEventState.DELETED,
            CalendarConnection.state == ConnectionState.CONNECTED,
            Participant.user_id.is_not(None),
        )
    )
    return {user_id for user_id in rows if user_id is not None}
