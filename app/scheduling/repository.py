"""Every query the scheduling rules need."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Uuid,
    and_,
    bindparam,
    cast,
    delete,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    union,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.access import Viewer
from app.db import is_postgres
from app.models import (
    AvailabilityWindow,
    CalendarConnection,
    CalendarEvent,
    CalendarEventState,
    ConnectionState,
    Interview,
    InterviewStatus,
    Organization,
    Participant,
    Project,
    Proposal,
    Role,
    SlotReservation,
    User,
)
from app.scheduling.load import LoadBook, effective_limit
from app.scheduling.windows import TimeRange
from app.timezones import zone


async def get_interview(
    session: AsyncSession, interview_id: uuid.UUID, *, lock: bool = False
) -> Interview | None:
    query = select(Interview).where(Interview.id == interview_id)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query.execution_options(populate_existing=True))).first()


async def get_interview_in_context(
    session: AsyncSession, interview_id: uuid.UUID
) -> tuple[Interview, Proposal, Project] | None:
    """The interview with its proposal and project, in one statement (no locks)."""
    row = (
        await session.execute(
            select(Interview, Proposal, Project)
            .join(Proposal, Proposal.id == Interview.proposal_id)
            .join(Project, Project.id == Proposal.project_id)
            .where(Interview.id == interview_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


async def lock_interview_in_context(
    session: AsyncSession, interview_id: uuid.UUID
) -> tuple[Interview, Proposal, Project] | None:
    """The interview with its proposal and project, proposal and interview locked FOR UPDATE.

    One statement: PostgreSQL locks the proposal row, then the interview row (the order of
    the FROM list, the order two statements took them in before), and re-reads both once
    locked, so what is returned is what a concurrent change committed meanwhile.
    """
    query = (
        select(Interview, Proposal, Project)
        .select_from(Proposal)
        .join(Project, Project.id == Proposal.project_id)
        .join(Interview, Interview.proposal_id == Proposal.id)
        .where(Interview.id == interview_id)
        .with_for_update(of=[Proposal, Interview])
    )
    row = (await session.execute(query.execution_options(populate_existing=True))).first()
    return None if row is None else (row[0], row[1], row[2])


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


async def users_and_connected(
    session: AsyncSession, ids: Collection[uuid.UUID]
) -> tuple[dict[uuid.UUID, User], set[uuid.UUID]]:
    """These users, and which of them have a connected calendar: one statement."""
    if not ids:
        return {}, set()
    connected = (
        select(CalendarConnection.id)
        .where(
            CalendarConnection.user_id == User.id,
            CalendarConnection.state == ConnectionState.CONNECTED,
        )
        .exists()
    )
    rows = await session.execute(select(User, connected).where(User.id.in_(ids)))
    users: dict[uuid.UUID, User] = {}
    with_calendar: set[uuid.UUID] = set()
    for user, has_calendar in rows:
        users[user.id] = user
        if has_calendar:
            with_calendar.add(user.id)
    return users, with_calendar


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


async def lock_people_of(
    session: AsyncSession,
    *,
    interview_id: uuid.UUID,
    candidate_id: uuid.UUID,
    also: ColumnElement[bool] | None = None,
) -> bool | None:
    """`lock_people` for the interview's member participants and its candidate, named by a
    subquery: the lock needs no read of the participants before it. `also`, a boolean
    the transaction needs anyway, is read in the same statement and returned (None on
    SQLite, which sends no statement)."""
    if not is_postgres(session):
        return None  # SQLite: BEGIN IMMEDIATE already serialises every writer
    members = select(Participant.user_id).where(
        Participant.interview_id == interview_id, Participant.user_id.is_not(None)
    )
    rows = await session.execute(
        select(User.id, also if also is not None else true())
        .where(or_(User.id.in_(members), User.id == candidate_id))
        .order_by(User.id)
        .with_for_update(of=User)
    )
    answers = [bool(row[1]) for row in rows]
    return answers[0] if answers else None


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


@functools.cache
def _slot_inputs_statement(*, postgres: bool) -> CompoundSelect[Any]:
    """Built once per dialect, with bound parameters: building it took as long as running it."""
    interview_id = bindparam("interview_id", type_=Uuid())
    members = select(Participant.user_id).where(
        Participant.interview_id == interview_id, Participant.user_id.is_not(None)
    )
    people: CompoundSelect[tuple[uuid.UUID | None]] = union(
        members, select(bindparam("candidate_id", type_=Uuid()))
    )
    no_time = cast(null(), AvailabilityWindow.starts_at.type)
    no_user = cast(null(), Uuid())
    held = SlotReservation
    in_people = and_(held.user_id.in_(people), held.interview_id != interview_id)
    if postgres:
        # The windows as one multirange, and the bookings overlapping it: one pass over the
        # exclusion constraint's GiST index (92 buffers where probing it once per window
        # read 466). The bounds are written as a literal, not a parameter: a prepared
        # statement's generic plan (PostgreSQL's choice after five runs) cannot match a
        # parameter to the index expression tstzrange(starts_at, ends_at, '[)'), and took
        # 21 ms, not 2.
        bounds: ColumnElement[str] = literal_column("'[)'")
        windows = (
            select(
                func.range_agg(
                    func.tstzrange(AvailabilityWindow.starts_at, AvailabilityWindow.ends_at, bounds)
                )
            )
            .where(AvailabilityWindow.interview_id == interview_id)
            .scalar_subquery()
        )
        overlapping = func.tstzrange(held.starts_at, held.ends_at, bounds).op(
            "&&", is_comparison=True
        )(windows)
        booked = select(literal("b"), held.starts_at, held.ends_at, no_user).where(
            in_people, overlapping
        )
    else:
        window = aliased(AvailabilityWindow)
        overlaps = and_(held.starts_at < window.ends_at, held.ends_at > window.starts_at)
        booked = (
            select(literal("b"), held.starts_at, held.ends_at, no_user)
            .join(window, and_(window.interview_id == interview_id, overlaps))
            .where(in_people)
        )
    return union_all(
        select(
            literal("w").label("kind"),
            AvailabilityWindow.starts_at.label("starts_at"),
            AvailabilityWindow.ends_at.label("ends_at"),
            no_user.label("user_id"),
        ).where(AvailabilityWindow.interview_id == interview_id),
        select(literal("m"), no_time, no_time, Participant.user_id).where(
            Participant.interview_id == interview_id, Participant.user_id.is_not(None)
        ),
        booked,
        select(literal("c"), no_time, no_time, CalendarConnection.user_id).where(
            CalendarConnection.user_id.in_(members)
        ),
        # Members with a load limit (their own or their organization's): only then are the
        # limits and the bookings around the windows read (`load_books`).
        select(literal("l"), no_time, no_time, User.id)
        .outerjoin(Organization, Organization.id == User.organization_id)
        .where(
            User.id.in_(members),
            or_(
                User.max_interviews_per_day.is_not(None),
                User.max_interviews_per_week.is_not(None),
                Organization.max_interviews_per_day.is_not(None),
                Organization.max_interviews_per_week.is_not(None),
            ),
        ),
    )


@dataclass(frozen=True)
class SlotInputs:
    """What the free slots of one interview are computed from."""

    windows: list[TimeRange]
    members: set[uuid.UUID]  # member participants' user ids
    busy: list[TimeRange]  # reservations of members or candidate overlapping a window
    calendars: bool  # some member has a calendar connection (its busy time is asked for)
    limited: set[uuid.UUID]  # members with a daily or weekly load limit


async def slot_inputs(
    session: AsyncSession, interview_id: uuid.UUID, candidate_id: uuid.UUID
) -> SlotInputs:
    """Windows, member participants, their and the candidate's bookings inside the windows,
    whether any member has a connected calendar, and which members have a load limit: one
    statement (one round trip).

    Only reservations overlapping a window are read, so the cost follows the windows asked
    and the bookings inside them, not the people's whole history. On PostgreSQL the overlap
    is written as the exclusion constraint's range (user_id, tstzrange) so its GiST index
    answers it.
    """
    statement = _slot_inputs_statement(postgres=is_postgres(session))
    params = {"interview_id": interview_id, "candidate_id": candidate_id}
    windows: list[TimeRange] = []
    busy: list[TimeRange] = []
    member_ids: set[uuid.UUID] = set()
    limited: set[uuid.UUID] = set()
    calendars = False
    for kind, starts_at, ends_at, user_id in await session.execute(statement, params):
        match kind:
            case "w":
                windows.append(TimeRange(starts_at, ends_at))
            case "b":
                busy.append(TimeRange(starts_at, ends_at))
            case "m":
                member_ids.add(user_id)
            case "l":
                limited.add(user_id)
            case _:
                calendars = True
    return SlotInputs(sorted(windows), member_ids, busy, calendars, limited)


async def load_books(
    session: AsyncSession,
    user_ids: Collection[uuid.UUID],
    *,
    start: datetime,
    end: datetime,
    exclude_interview_id: uuid.UUID | None = None,
) -> list[LoadBook]:
    """The load limits of these members and their bookings around [start, end).

    One query for the limits; a second, for the bookings, only when someone has a limit.
    Bookings are read from a week before to a week after, so whole local weeks count.
    """
    if not user_ids:
        return []
    rows = await session.execute(
        select(
            User.id,
            User.time_zone,
            User.max_interviews_per_day,
            User.max_interviews_per_week,
            Organization.max_interviews_per_day,
            Organization.max_interviews_per_week,
        )
        .outerjoin(Organization, Organization.id == User.organization_id)
        .where(User.id.in_(user_ids))
    )
    limits = [
        effective_limit(
            user_id=row[0],
            time_zone=zone(row[1]) or ZoneInfo("UTC"),
            own=(row[2], row[3]),
            organization=(row[4], row[5]),
        )
        for row in rows
    ]
    limited = {limit.user_id: limit for limit in limits if limit.limited}
    if not limited:
        return []
    week = timedelta(days=8)
    query = select(SlotReservation.user_id, SlotReservation.starts_at).where(
        SlotReservation.user_id.in_(limited),
        SlotReservation.starts_at < end + week,
        SlotReservation.ends_at > start - week,
    )
    if exclude_interview_id is not None:
        query = query.where(SlotReservation.interview_id != exclude_interview_id)
    starts: dict[uuid.UUID, list[datetime]] = {user_id: [] for user_id in limited}
    for user_id, starts_at in await session.execute(query):
        starts[user_id].append(starts_at)
    return [LoadBook.of(limit, starts[user_id]) for user_id, limit in limited.items()]


async def bookings_by_user(
    session: AsyncSession,
    user_ids: Collection[uuid.UUID],
    *,
    start: datetime,
    end: datetime,
    exclude_interview_id: uuid.UUID | None = None,
) -> dict[uuid.UUID, list[tuple[TimeRange, uuid.UUID]]]:
    """Each person's reserved time between start and end, with its interview, in one query."""
    found: dict[uuid.UUID, list[tuple[TimeRange, uuid.UUID]]] = {u: [] for u in user_ids}
    if not user_ids:
        return found
    query = select(
        SlotReservation.user_id,
        SlotReservation.starts_at,
        SlotReservation.ends_at,
        SlotReservation.interview_id,
    ).where(
        SlotReservation.user_id.in_(user_ids),
        SlotReservation.starts_at < end,
        SlotReservation.ends_at > start,
    )
    if exclude_interview_id is not None:
        query = query.where(SlotReservation.interview_id != exclude_interview_id)
    for user_id, starts_at, ends_at, interview_id in await session.execute(query):
        found[user_id].append((TimeRange(starts_at, ends_at), interview_id))
    return found


async def visible_interview_ids(
    session: AsyncSession, viewer: Viewer, interview_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of these interviews the viewer may see, in one query."""
    if not interview_ids:
        return set()
    rows = await session.scalars(
        select(Interview.id)
        .join(Proposal, Proposal.id == Interview.proposal_id)
        .join(Project, Project.id == Proposal.project_id)
        .where(Interview.id.in_(interview_ids), viewer.proposal_filter())
    )
    return set(rows)
