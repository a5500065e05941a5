"""My Interviews and My Applications: who sees which interviews, grouped and ordered."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import Viewer
from app.models import Interview, InterviewStatus, Participant, Project, Proposal, Role
from app.pagination import Cursor, count_rows


class InterviewGroup(enum.StrEnum):
    PENDING = "PENDING"
    UPCOMING = "UPCOMING"
    PAST = "PAST"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class _Order:
    column: Any  # a datetime column of Interview
    descending: bool


def _group(group: InterviewGroup, now: datetime) -> tuple[ColumnElement[bool], _Order]:
    match group:
        case InterviewGroup.PENDING:  # by date requested, newest first
            return Interview.status == InterviewStatus.PENDING, _Order(Interview.requested_at, True)
        case InterviewGroup.UPCOMING:  # soonest first
            return and_(
                Interview.status == InterviewStatus.BOOKED, Interview.booked_end > now
            ), _Order(Interview.booked_start, False)
        case InterviewGroup.PAST:  # latest first
            return and_(
                Interview.status == InterviewStatus.BOOKED, Interview.booked_end <= now
            ), _Order(Interview.booked_start, True)
        case InterviewGroup.CANCELLED:
            return Interview.status == InterviewStatus.CANCELLED, _Order(
                Interview.cancelled_at,
                True,
            )


def _mine(viewer: Viewer) -> ColumnElement[bool]:
    """Members: what they requested or take part in; others: what they may see."""
    if viewer.user.role is Role.HIRING_MEMBER:
        takes_part = exists().where(
            Participant.interview_id == Interview.id, Participant.user_id == viewer.id
        )
        return and_(
            viewer.proposal_filter(), or_(Interview.requested_by_id == viewer.id, takes_part)
        )
    return viewer.proposal_filter()


def sort_key(interview: Interview, group: InterviewGroup) -> datetime:
    match group:
        case InterviewGroup.PENDING:
            return interview.requested_at
        case InterviewGroup.UPCOMING | InterviewGroup.PAST:
            assert interview.booked_start is not None
            return interview.booked_start
        case InterviewGroup.CANCELLED:
            assert interview.cancelled_at is not None
            return interview.cancelled_at


def _after(order: _Order, after: Cursor) -> ColumnElement[bool]:
    """Rows after the cursor in the group's order: by the sort column, then by id."""
    if order.descending:
        return or_(order.column < after.at, and_(order.column == after.at, Interview.id < after.id))
    return or_(order.column > after.at, and_(order.column == after.at, Interview.id > after.id))


def _ordering(order: _Order) -> tuple[Any, Any]:
    if order.descending:
        return order.column.desc(), Interview.id.desc()
    return order.column.asc(), Interview.id.asc()


async def my_interviews(
    *,
    session: AsyncSession,
    viewer: Viewer,
    group: InterviewGroup,
    first: int,
    after: Cursor | None,
    now: datetime,
) -> tuple[Sequence[Interview], bool]:
    """One page, and whether another follows; one query."""
    in_group, order = _group(group, now)
    query = (
        select(Interview)
        .join(Proposal, Proposal.id == Interview.proposal_id)
        .join(Project, Project.id == Proposal.project_id)
        .where(in_group, _mine(viewer))
    )
    if after is not None:
        query = query.where(_after(order, after))
    query = query.order_by(*_ordering(order))
    rows = list(await session.scalars(query.limit(first + 1)))
    return rows[:first], len(rows) > first


async def count_my_interviews(
    *, session: AsyncSession, viewer: Viewer, group: InterviewGroup, now: datetime
) -> int:
    """How many interviews the group holds for the viewer (its totalCount): one query."""
    in_group, _ = _group(group, now)
    query = (
        select(Interview)
        .join(Proposal, Proposal.id == Interview.proposal_id)
        .join(Project, Project.id == Proposal.project_id)
        .where(in_group, _mine(viewer))
    )
    return await count_rows(session, query)


# The attention list (app.scheduling.browsing) applies the same "mine" rule.
mine = _mine


@dataclass(frozen=True)
class ApplicationView:
    proposal: Proposal
    action_required: bool


async def my_applications(*, session: AsyncSession, viewer: Viewer) -> list[ApplicationView]:
    """The viewer's own applications (as the candidate). Two queries in all.

    Staff and members have none: they browse an organization's proposals with the paged,
    filtered `proposals` list. (This list once returned every proposal a staff member may
    see, unpaged: for an admin, the whole marketplace in one answer.)
    """
    proposals = list(
        await session.scalars(
            select(Proposal)
            .where(Proposal.candidate_id == viewer.id)
            .order_by(Proposal.created_at.desc(), Proposal.id)
        )
    )
    waiting: set[uuid.UUID] = set()
    if proposals:
        waiting = set(
            await session.scalars(
                select(Interview.proposal_id).where(
                    Interview.proposal_id.in_([p.id for p in proposals]),
                    Interview.status == InterviewStatus.PENDING,
                    Interview.alternative_times_requested.is_(False),
                )
            )
        )
    return [ApplicationView(p, p.id in waiting) for p in proposals]
