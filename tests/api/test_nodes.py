"""node(id:) and nodes(ids:): any object by id, with the access rules of SPEC section 1."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Notification
from tests.conftest import Clock, GraphQLClient, new_id
from tests.factories import make_interview, make_world

NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Interview { round proposal { id } } } }"


async def test_node_finds_each_type_the_viewer_may_see_and_nothing_else(
    gql: GraphQLClient, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    world = await make_world(session)
    ours = await make_interview(session, settings, world.a, clock.now)
    theirs = await make_interview(session, settings, world.b, clock.now)
    mine = await session.scalar(
        select(Notification).where(Notification.user_id == world.a.member.id)
    )
    others = await session.scalar(
        select(Notification).where(Notification.user_id == world.b.member.id)
    )
    assert mine is not None and others is not None
    token = world.token(world.a.member)
    visible = {
        "Organization": world.a.organization.id,
        "User": world.a.colleague.id,
        "Project": world.a.project.id,
        "Proposal": world.a.proposal.id,
        "Interview": ours.id,
        "Notification": mine.id,
    }
    for typename, object_id in visible.items():
        body = await gql(NODE, {"id": str(object_id)}, token=token)
        assert body["data"]["node"] == {"__typename": typename, "id": str(object_id)}
    for hidden in [
        world.b.organization.id,
        world.b.member.id,
        world.b.project.id,
        world.b.proposal.id,
        theirs.id,
        others.id,
        new_id(),
        "not-an-id",
    ]:
        assert (await gql(NODE, {"id": str(hidden)}, token=token))["data"] == {"node": None}


async def test_nodes_keeps_the_order_asked_and_costs_the_same_for_more_ids(
    gql: GraphQLClient, session: AsyncSession, settings: Settings, clock: Clock, count_queries: Any
) -> None:
    world = await make_world(session)
    interviews = [await make_interview(session, settings, world.a, clock.now) for _ in range(12)]
    theirs = await make_interview(session, settings, world.b, clock.now)
    token = world.token(world.a.manager)
    ids = [str(interviews[0].id), str(theirs.id), str(world.a.proposal.id)]
    body = await gql(NODES, {"ids": ids}, token=token)
    first, hidden, proposal = body["data"]["nodes"]
    assert first["__typename"] == "Interview" and first["id"] == ids[0]
    assert hidden is None
    assert proposal == {"__typename": "Proposal", "id": ids[2]}

    with count_queries() as few:
        await gql(NODES, {"ids": [str(i.id) for i in interviews[:3]]}, token=token)
    with count_queries() as many:
        grown = await gql(NODES, {"ids": [str(i.id) for i in interviews]}, token=token)
    assert len(grown["data"]["nodes"]) == 12
    assert few.count == many.count

    too_many = await gql(NODES, {"ids": [new_id() for _ in range(101)]}, token=token)
    assert too_many["errors"][0]["extensions"]["code"] == "VALIDATION"
