"""Browsing projects and proposals, and the interviews that need someone's attention."""

from __future__ import annotations

import enum
import uuid
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select

from app.access import Viewer
from app.models import (
    Interview,
    InterviewStatus,
    Participant,
    Project,
    Proposal,
    ProposalStatus,
    Role,
    SyncState,
    User,
)
from app.pagination import Order
from app.people.listing import contains
from app.scheduling.listing import mine

NEWEST_PROJECTS = Order(Project.created_at, Project.id, True, lambda row: row.created_at)
NEWEST_PROPOSALS = Order(Proposal.created_at, Proposal.id, True, lambda row: row.created_at)
NEWEST_REQUESTS = Order(Interview.requested_at, Interview.id, True, lambda row: row.requested_at)


def projects_query(
    *, viewer: Viewer, organization_id: uuid.UUID | None, search: str | None
) -> Select[Any]:
    query = select(Project).where(viewer.organization_filter(Project.organization_id))
    if organization_id is not None:
        query = query.where(Project.organization_id == organization_id)
    if search and search.strip():
        query = query.where(contains(Project.title, search))
    return query


def proposals_query(
    *,
    viewer: Viewer,
    project_id: uuid.UUID | None,
    organization_id: uuid.UUID | None,
    status: ProposalStatus | None,
    search: str | None,
) -> Select[Any]:
    """Proposals the viewer may see (a candidate: their own); search: candidate or title."""
    query = (
        select(Proposal)
        .join(Project, Project.id == Proposal.project_id)
        .where(viewer.proposal_filter())
    )
    if project_id is not None:
        query = query.where(Proposal.project_id == project_id)
    if organization_id is not None:
        query = query.where(Project.organization_id == organization_id)
    if status is not None:
        query = query.where(Proposal.status == status)
    if search and search.strip():
        candidate = (
            select(User.id)
            .where(User.id == Proposal.candidate_id)
            .where(or_(contains(User.name, search), contains(User.email, search)))
        )
        query = query.where(or_(contains(Project.title, search), exists(candidate)))
    return query


class AttentionReason(enum.StrEnum):
    OTHER_TIMES_REQUESTED = "OTHER_TIMES_REQUESTED"  # pending: the candidate found no time
    NOT_BOOKED_AFTER_REMINDER = "NOT_BOOKED_AFTER_REMINDER"  # pending: reminded, still waiting
    SYNC_FAILED = "SYNC_FAILED"  # a calendar write or invite mail failed for good


def _sync_failed() -> Any:
    return exists().where(
        Participant.interview_id == Interview.id, Participant.sync_state == SyncState.FAILED
    )


def attention_query(*, viewer: Viewer) -> Select[Any]:
    """Interviews with something to do: the account manager's (and team's) attention list."""
    if viewer.role is Role.CANDIDATE:
        return select(Interview).where(Interview.id.is_(None))  # staff and teams only
    pending = Interview.status == InterviewStatus.PENDING
    return (
        select(Interview)
        .join(Proposal, Proposal.id == Interview.proposal_id)
        .join(Project, Project.id == Proposal.project_id)
        .where(
            mine(viewer),
            or_(
                and_(pending, Interview.alternative_times_requested.is_(True)),
                and_(pending, Interview.reminded_at.is_not(None)),
                _sync_failed(),
            ),
        )
    )


def attention_reasons(
    interview: Interview, participants: list[Participant]
) -> list[AttentionReason]:
    reasons = []
    if interview.status is InterviewStatus.PENDING:
        if interview.alternative_times_requested:
            reasons.append(AttentionReason.OTHER_TIMES_REQUESTED)
        if interview.reminded_at is not None:
            reasons.append(AttentionReason.NOT_BOOKED_AFTER_REMINDER)
    if any(p.sync_state is SyncState.FAILED for p in participants):
        reasons.append(AttentionReason.SYNC_FAILED)
    return reasons
