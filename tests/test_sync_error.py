"""A participant's syncError: plain words, for the team, the account manager and admins only."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Participant, SyncState
from app.outbox.errors import PermanentDeliveryError, TransientDeliveryError
from app.workers.mail import plain_reason
from tests.conftest import Clock, GraphQLClient
from tests.factories import World, make_interview, make_world

QUERY = "query($id: ID!) { interview(id: $id) { participants { email syncState syncError } } }"
REASON = "the mail server could not be reached; gave up after several attempts"


@pytest.fixture
async def world(session: AsyncSession) -> World:
    return await make_world(session)


async def test_sync_error_is_shown_to_the_team_manager_and_admins_not_the_candidate(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    interview = await make_interview(session, settings, world.a, clock.now)
    await session.execute(
        update(Participant)
        .where(Participant.interview_id == interview.id)
        .values(sync_state=SyncState.FAILED, sync_error=REASON)
    )
    await session.commit()
    side = world.a
    for user, expected in [
        (side.member, REASON),
        (side.colleague, REASON),
        (side.manager, REASON),
        (world.admin, REASON),
        (side.candidate, None),
    ]:
        body = await gql(QUERY, {"id": str(interview.id)}, token=world.token(user))
        participants = body["data"]["interview"]["participants"]
        assert [p["syncError"] for p in participants] == [expected], user.role
        assert [p["syncState"] for p in participants] == ["FAILED"]


def test_mail_failures_are_told_without_transport_internals() -> None:
    refused = ConnectionRefusedError(111, "Connection refused")
    for exc in (
        TransientDeliveryError(f"SMTP unreachable: {refused!r}"),
        refused,
        PermanentDeliveryError("SMTP 550 5.1.1 <x@y> no such mailbox"),
    ):
        reason = plain_reason(exc)
        assert "Error" not in reason and "111" not in reason and "SMTP" not in reason
