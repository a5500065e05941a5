"""An interview's proposal as a reference (app.schema.types.Proposal.reference): its id
without a read, and its row read once, through the request's loader, when more is needed."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.schema.loaders import Loaders
from app.schema.types import Proposal
from tests.factories import make_world


async def test_a_reference_reads_its_proposal_once_and_only_when_asked(
    session: AsyncSession, count_queries: Any
) -> None:
    world = await make_world(session)
    await session.commit()
    info: Any = SimpleNamespace(context=SimpleNamespace(loaders=Loaders(session, asyncio.Lock())))
    reference = Proposal.reference(world.a.proposal.id)
    assert reference.id == str(world.a.proposal.id)
    with count_queries() as counter:
        model = await reference._model(info)
        again = await reference._model(info)
        status = await reference._status(info)
    assert model is again
    assert counter.count == 1
    assert model.id == world.a.proposal.id
    assert model.candidate_id == world.a.candidate.id
    assert status == world.a.proposal.status
    assert Proposal.of(model).proposal_id == reference.proposal_id
