"""Closing a proposal: the team (or staff acting for it) stops the candidate's process."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.access import Viewer
from app.errors import ErrorCode, ServiceError
from app.models import InterviewStatus, Proposal, ProposalStatus
from app.scheduling import repository
from app.scheduling.access import proposal_for, require_open
from app.scheduling.requests import clean_reason, mark_cancelled


async def close_proposal(
    *,
    session: AsyncSession,
    viewer: Viewer,
    proposal_id: uuid.UUID,
    reason: str | None,
    now: datetime,
) -> Proposal:
    """CLOSED; pending and upcoming interviews are cancelled and everyone is told.

    Unlike hiring, nothing booked is kept: a closed proposal has no more interviews. Past
    interviews stay as they were.
    """
    proposal, project = await proposal_for(session, viewer, proposal_id, lock=True)
    if not viewer.can_schedule_for_organization(project.organization_id):
        raise ServiceError.one(
            ErrorCode.FORBIDDEN, "only the hiring team can close a proposal", "proposalId"
        )
    require_open(proposal)
    why = clean_reason(reason) or "the proposal was closed"
    proposal.status = ProposalStatus.CLOSED
    pending = await repository.interviews_of(session, proposal.id, InterviewStatus.PENDING)
    booked = await repository.interviews_of(session, proposal.id, InterviewStatus.BOOKED)
    upcoming = [i for i in booked if i.booked_end is not None and i.booked_end > now]
    for interview in [*pending, *upcoming]:
        await mark_cancelled(
            session, interview, proposal, project, by=viewer.user, reason=why, now=now
        )
    await session.flush()
    return proposal
