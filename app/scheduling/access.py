"""Loading an interview or proposal for a viewer, with the access rules applied."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.access import Viewer
from app.errors import ErrorCode, ServiceError, not_found
from app.models import Interview, Project, Proposal, ProposalStatus
from app.scheduling import repository


@dataclass(frozen=True)
class InterviewContext:
    interview: Interview
    proposal: Proposal
    project: Project


async def proposal_for(
    session: AsyncSession, viewer: Viewer, proposal_id: uuid.UUID, *, lock: bool = False
) -> tuple[Proposal, Project]:
    found = await repository.get_proposal_and_project(session, proposal_id, lock=lock)
    if found is None or not viewer.can_view_proposal(*found):
        raise not_found("proposal", "proposalId")
    return found


async def interview_for(
    session: AsyncSession, viewer: Viewer, interview_id: uuid.UUID, *, lock: bool = False
) -> InterviewContext:
    if not lock:
        row = await repository.get_interview_in_context(session, interview_id)
        if row is None or not viewer.can_view_proposal(row[1], row[2]):
            raise not_found("interview", "interviewId")
        return InterviewContext(*row)
    locked = await repository.lock_interview_in_context(session, interview_id)
    if locked is None or not viewer.can_view_proposal(locked[1], locked[2]):
        raise not_found("interview", "interviewId")
    return InterviewContext(*locked)


def require_team(viewer: Viewer, project: Project) -> None:
    """The hiring team, its account manager, or an admin."""
    if not viewer.can_schedule_for_organization(project.organization_id):
        raise ServiceError.one(
            ErrorCode.FORBIDDEN, "only the hiring team can do this", "interviewId"
        )


def require_open(proposal: Proposal) -> None:
    if proposal.status is not ProposalStatus.OPEN:
        raise ServiceError.one(
            ErrorCode.INVALID_STATE,
            f"the proposal is {proposal.status.value.lower()}: no more interviews on it",
            "proposalId",
        )
