"""Mutations on proposals besides hiring (which lives with the interview flow)."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.scheduling import proposals
from app.schema.context import Info
from app.schema.errors import user_errors
from app.schema.ids import parse_id
from app.schema.people import ProposalPayload
from app.schema.permissions import IsAuthenticated
from app.schema.types import Proposal


@strawberry.input
class CloseProposalInput:
    proposal_id: strawberry.ID
    reason: str | None = None


@strawberry.type
class ProposalMutation:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "The team, its account manager or an admin closes an open proposal: pending and "
            "upcoming interviews are cancelled (with the reason) and everyone is told."
        ),
    )
    async def close_proposal(self, info: Info, input: CloseProposalInput) -> ProposalPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> Any:
            return await proposals.close_proposal(
                session=session,
                viewer=ctx.require_viewer(),
                proposal_id=parse_id(input.proposal_id, "proposalId", "proposal"),
                reason=input.reason,
                now=ctx.clock(),
            )

        proposal, errors = await ctx.unit_of_work(work)
        if errors:
            return ProposalPayload(errors=user_errors(errors))
        assert proposal is not None
        return ProposalPayload(proposal=Proposal.of(proposal))
