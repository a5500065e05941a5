"""Per-request DataLoaders: each list field costs one query, whatever its length."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import BindParameter, Select, Uuid, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from strawberry.dataloader import DataLoader

from app.models import (
    ApiToken,
    AvailabilityWindow,
    Interview,
    Organization,
    Participant,
    ParticipantKind,
    Project,
    Proposal,
    Role,
    SyncState,
    User,
)

M = TypeVar("M")

# Statements are built once, with the keys as an expanding parameter: building a select
# and its cache key on every request cost more than running it (py-spy, issue 15).
_IDS: BindParameter[uuid.UUID] = bindparam("ids", type_=Uuid(), expanding=True)
_BY_ID: dict[type[Any], Select[Any]] = {}


def _by_id_statement(model: type[Any]) -> Select[Any]:
    statement = _BY_ID.get(model)
    if statement is None:
        statement = _BY_ID[model] = select(model).where(model.id.in_(_IDS))
    return statement


_WINDOWS = (
    select(
        AvailabilityWindow.interview_id, AvailabilityWindow.starts_at, AvailabilityWindow.ends_at
    )
    .where(AvailabilityWindow.interview_id.in_(_IDS))
    .order_by(AvailabilityWindow.starts_at)
)


@dataclass(frozen=True, slots=True)
class PersonRow:
    """A user as lists show them, read as plain columns (nothing here is written)."""

    id: uuid.UUID
    email: str
    name: str
    role: Role
    time_zone: str
    organization_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class ParticipantRow:
    """A participant with their user, read as plain columns: a page of interviews has
    dozens, and ORM objects cost more to build than the statement did to run."""

    kind: ParticipantKind
    email: str
    sync_state: SyncState
    sync_error: str | None
    sync_checked_at: datetime | None
    user: PersonRow | None


_PEOPLE = (
    select(
        Participant.interview_id,
        Participant.kind,
        Participant.email,
        Participant.sync_state,
        Participant.sync_error,
        Participant.sync_checked_at,
        User.id,
        User.email,
        User.name,
        User.role,
        User.time_zone,
        User.organization_id,
    )
    .outerjoin(User, User.id == Participant.user_id)
    .where(Participant.interview_id.in_(_IDS))
    .order_by(Participant.email)
)

# Keys per query: a list field that fans out beyond what the cost limit priced (a
# candidate's applications are not paged) still never sends PostgreSQL more than its
# 32,767 bind parameters; it sends one more query per thousand keys.
MAX_BATCH = 1000


def _by_id(
    session: AsyncSession, lock: asyncio.Lock, model: type[M]
) -> DataLoader[uuid.UUID, M | None]:
    statement = _by_id_statement(model)

    async def load(ids: list[uuid.UUID]) -> Sequence[M | None]:
        async with lock:
            rows = await session.scalars(statement, {"ids": ids})
        found = {row.id: row for row in rows}
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load, max_batch_size=MAX_BATCH)


_PARTICIPANTS = (
    select(Participant).where(Participant.interview_id.in_(_IDS)).order_by(Participant.email)
)
_API_TOKENS = (
    select(ApiToken)
    .where(ApiToken.user_id.in_(_IDS))
    .order_by(ApiToken.created_at.desc(), ApiToken.id)
)


def _by_parent(
    session: AsyncSession,
    lock: asyncio.Lock,
    statement: Select[M],
    parent: InstrumentedAttribute[uuid.UUID],
) -> DataLoader[uuid.UUID, list[M]]:
    """`statement` selects the rows whose `parent` is in the expanding parameter `ids`."""

    async def load(parent_ids: list[uuid.UUID]) -> Sequence[list[M]]:
        async with lock:
            rows = await session.scalars(statement, {"ids": parent_ids})
        grouped: dict[uuid.UUID, list[M]] = defaultdict(list)
        for row in rows:
            grouped[getattr(row, parent.key)].append(row)
        return [grouped.get(i, []) for i in parent_ids]

    return DataLoader(load_fn=load, max_batch_size=MAX_BATCH)


def _latest_interviews(
    session: AsyncSession, lock: asyncio.Lock
) -> DataLoader[tuple[uuid.UUID, int], list[Interview]]:
    """The latest `last` rounds of each proposal, oldest first: one query per page size."""

    async def load(keys: list[tuple[uuid.UUID, int]]) -> Sequence[list[Interview]]:
        by_size: dict[int, set[uuid.UUID]] = defaultdict(set)
        for proposal_id, last in keys:
            by_size[last].add(proposal_id)
        grouped: dict[tuple[uuid.UUID, int], list[Interview]] = defaultdict(list)
        for last, proposal_ids in by_size.items():
            newest_first = (
                func.row_number()
                .over(
                    partition_by=Interview.proposal_id,
                    # A reschedule shares its round: the later request is the newer.
                    order_by=(Interview.round.desc(), Interview.requested_at.desc()),
                )
                .label("position")
            )
            ranked = (
                select(Interview.id, newest_first)
                .where(Interview.proposal_id.in_(proposal_ids))
                .subquery()
            )
            query = (
                select(Interview)
                .join(ranked, ranked.c.id == Interview.id)
                .where(ranked.c.position <= last)
                .order_by(Interview.round, Interview.requested_at)
            )
            async with lock:
                rows = await session.scalars(query)
            for row in rows:
                grouped[(row.proposal_id, last)].append(row)
        return [grouped.get(key, []) for key in keys]

    return DataLoader(load_fn=load, max_batch_size=MAX_BATCH)


def _windows_of(
    session: AsyncSession, lock: asyncio.Lock
) -> DataLoader[uuid.UUID, list[tuple[datetime, datetime]]]:
    """Start and end of each interview's windows, in order: plain rows, no ORM objects
    (nothing here is written, and a page of interviews has dozens of windows)."""

    async def load(ids: list[uuid.UUID]) -> Sequence[list[tuple[datetime, datetime]]]:
        async with lock:
            rows = await session.execute(_WINDOWS, {"ids": ids})
        grouped: dict[uuid.UUID, list[tuple[datetime, datetime]]] = defaultdict(list)
        for interview_id, starts_at, ends_at in rows:
            grouped[interview_id].append((starts_at, ends_at))
        return [grouped.get(i, []) for i in ids]

    return DataLoader(load_fn=load, max_batch_size=MAX_BATCH)


def _people_of(
    session: AsyncSession, lock: asyncio.Lock
) -> DataLoader[uuid.UUID, list[ParticipantRow]]:
    """Each interview's participants (by email) with their users: one statement."""

    async def load(ids: list[uuid.UUID]) -> Sequence[list[ParticipantRow]]:
        async with lock:
            rows = await session.execute(_PEOPLE, {"ids": ids})
        grouped: dict[uuid.UUID, list[ParticipantRow]] = defaultdict(list)
        for interview_id, kind, email, state, error, checked, *user in rows:
            person = PersonRow(*user) if user[0] is not None else None
            grouped[interview_id].append(ParticipantRow(kind, email, state, error, checked, person))
        return [grouped.get(i, []) for i in ids]

    return DataLoader(load_fn=load, max_batch_size=MAX_BATCH)


class Loaders:
    """Named after what they take and give; built once per request.

    An AsyncSession allows one operation at a time, while GraphQL resolves sibling fields
    concurrently: every load takes the request's lock on the session. Only the Context
    builds them (app.schema.context), with its private session and lock.
    """

    def __init__(self, session: AsyncSession, lock: asyncio.Lock) -> None:
        self.user_by_id = _by_id(session, lock, User)
        self.project_by_id = _by_id(session, lock, Project)
        self.organization_by_id = _by_id(session, lock, Organization)
        self.proposal_by_id = _by_id(session, lock, Proposal)
        self.interview_by_id = _by_id(session, lock, Interview)
        self.latest_interviews_by_proposal = _latest_interviews(session, lock)
        self.windows_by_interview = _windows_of(session, lock)
        self.people_by_interview = _people_of(session, lock)
        self.participants_by_interview = _by_parent(
            session, lock, _PARTICIPANTS, Participant.interview_id
        )
        self.api_tokens_by_user = _by_parent(session, lock, _API_TOKENS, ApiToken.user_id)
