"""Roundtable's screens answer the same through the short path for plain attributes
(app.schema.execution) as through graphql-core's own path, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from app.config import Settings
from app.schema.execution import PlainValuesExecutor
from tests.conftest import Clock, GraphQLClient
from tests.factories import make_interview, make_world

SCREEN = """{
  myInterviews(group: PENDING, first: 20) {
    edges { cursor node {
      id round status requestedAt timeZone durationMinutes moveCount requestedBy { id name }
      windows { start end }
      participants { kind email syncState syncError syncCheckedAt user { id name email } }
      bookedStart bookedEnd conference { url provider } cancellation { at reason }
      alternativeTimesRequested alternativeTimesMessage lastEditedAt
      proposal { id status candidate { id name } project { id title } }
    } }
    pageInfo { hasNextPage endCursor }
  }
  me { id name email role timeZone organization { id name } }
}"""


async def test_the_list_screen_is_the_same_through_either_path(
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    gql: GraphQLClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = await make_world(session)
    for _ in range(3):
        await make_interview(
            session,
            settings,
            world.a,
            clock.now,
            participants=[world.a.member, world.a.colleague],
            invite_emails=["guest@outside.com"],
        )
    token = world.token(world.a.member)
    short = await gql(SCREEN, token=token)
    assert "errors" not in short, short
    assert len(short["data"]["myInterviews"]["edges"]) == 3
    monkeypatch.setattr(
        PlainValuesExecutor, "execute_fields", StrawberryGraphQLCoreExecutionContext.execute_fields
    )
    assert await gql(SCREEN, token=token) == short
