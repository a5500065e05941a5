"""Per-request DataLoaders: each list field costs one query, whatever its length."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from strawberry.dataloader import DataLoader

from app.models import (
    ApiToken,
    AvailabilityWindow,
    Interview,
    Organization,
    Participant,
    Project,
    Proposal,
    User,
)

M = TypeVar("M")

# Keys per query: a list field that fans out beyond what the cost limit priced (a
# candidate's applications are not paged) still never sends PostgreSQL more than its
# 32,767 bind parameters; it sends one more query per thousand keys.
MAX_BATCH = 1000


def _by_id(
    session: AsyncSession, lock: asyncio.Lock, model: type[M]
) -> DataLoader[uuid.UUID, M | None]:
    async def load(ids: list[uuid.UUID]) -> Sequence[M | None]:
        column: Any = model.id  # type: ignore[attr-defined]
        async with lock:
            rows = await session.scalars(select(model).where(column.in_(ids)))
        found = {row.id: row for row in rows}  # type: ignore[attr-defined]
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load, max_batch_size=MAX_BATCH)


def _by_parent(
    session: AsyncSession,
    lock: asyncio.Lock,
    model: type[M],
    parent: InstrumentedAttribute[uuid.UUID],
    *order_by: Any,
) -> DataLoader[uuid.UUID, list[M]]:
    async def load(parent_ids: list[uuid.UUID]) -> Sequence[list[M]]:
        async with lock:
            rows = await session.scalars(
                select(model).where(parent.in_(parent_ids)).order_by(*order_by)
            )
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
        self.windows_by_interview = _by_parent(
            session,
            lock,
            AvailabilityWindow,
            AvailabilityWindow.interview_id,
            AvailabilityWindow.starts_at,
        )
        self.participants_by_interview = _by_parent(
            session, lock, Participant, Participant.interview_id, Participant.email
        )
        self.api_tokens_by_user = _by_parent(
            session, lock, ApiToken, ApiToken.user_id, ApiToken.created_at.desc(), ApiToken.id
        )
