"""Each role reads what SPEC section 1 allows, and nothing else reads differently from absent."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from tests.conftest import Clock, GraphQLClient, new_id
from tests.factories import make_interview, make_world

ME = "{ me { id email role timeZone } }"
PROPOSAL = (
    "query($id: ID!) { proposal(id: $id) { id status candidate { id } project { id title } } }"
)
INTERVIEW = "query($id: ID!) { interview(id: $id) { id round proposal { id } } }"


async def test_missing_token_is_unauthenticated(gql: GraphQLClient) -> None:
    body = await gql(ME)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_unknown_and_malformed_tokens_are_unauthenticated(
    gql: GraphQLClient, session: AsyncSession
) -> None:
    await make_world(session)
    for token in ["rt_unknown", "garbage", "rt_" + "x" * 300]:
        body = await gql(ME, token=token)
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", token


async def test_me_returns_the_token_owner(gql: GraphQLClient, session: AsyncSession) -> None:
    world = await make_world(session)
    body = await gql(ME, token=world.token(world.a.candidate))
    assert body["data"]["me"] == {
        "id": str(world.a.candidate.id),
        "email": world.a.candidate.email,
        "role": "CANDIDATE",
        "timeZone": "Asia/Kolkata",
    }


async def test_candidate_sees_own_proposal_not_another_candidates(
    gql: GraphQLClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    token = world.token(world.a.candidate)
    own = await gql(PROPOSAL, {"id": str(world.a.proposal.id)}, token=token)
    assert own["data"]["proposal"]["candidate"]["id"] == str(world.a.candidate.id)
    other = await gql(PROPOSAL, {"id": str(world.b.proposal.id)}, token=token)
    missing = await gql(PROPOSAL, {"id": new_id()}, token=token)
    assert other == missing == {"data": {"proposal": None}}


async def test_member_of_a_cannot_read_organization_b_interview(
    gql: GraphQLClient, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    world = await make_world(session)
    theirs = await make_interview(session, settings, world.b, clock.now)
    ours = await make_interview(session, settings, world.a, clock.now)
    token = world.token(world.a.colleague)  # not a participant, same organization
    assert (await gql(INTERVIEW, {"id": str(ours.id)}, token=token))["data"]["interview"]["id"]
    other = await gql(INTERVIEW, {"id": str(theirs.id)}, token=token)
    missing = await gql(INTERVIEW, {"id": new_id()}, token=token)
    malformed = await gql(INTERVIEW, {"id": "not-a-uuid"}, token=token)
    assert other == missing == malformed == {"data": {"interview": None}}


async def test_account_manager_sees_assigned_organizations_only(
    gql: GraphQLClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    token = world.token(world.a.manager)
    assert (await gql(PROPOSAL, {"id": str(world.a.proposal.id)}, token=token))["data"]["proposal"]
    assert (await gql(PROPOSAL, {"id": str(world.b.proposal.id)}, token=token))["data"] == {
        "proposal": None
    }


async def test_admin_sees_everything(gql: GraphQLClient, session: AsyncSession) -> None:
    world = await make_world(session)
    token = world.token(world.admin)
    for side in (world.a, world.b):
        body = await gql(PROPOSAL, {"id": str(side.proposal.id)}, token=token)
        assert body["data"]["proposal"]["id"] == str(side.proposal.id)


async def test_candidate_applications_hold_only_their_own(
    gql: GraphQLClient, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    world = await make_world(session)
    await make_interview(session, settings, world.a, clock.now)
    await make_interview(session, settings, world.b, clock.now)
    body = await gql(
        "{ myApplications { actionRequired proposal { id interviews { round status } } } }",
        token=world.token(world.a.candidate),
    )
    apps = body["data"]["myApplications"]
    assert [a["proposal"]["id"] for a in apps] == [str(world.a.proposal.id)]
    assert apps[0]["actionRequired"] is True
    assert apps[0]["proposal"]["interviews"] == [{"round": 1, "status": "PENDING"}]


async def test_nested_interview_of_a_notification_is_checked_too(
    gql: GraphQLClient, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    world = await make_world(session)
    await make_interview(session, settings, world.a, clock.now)
    query = "{ notifications { edges { node { kind interview { id } } } } }"
    token = world.token(world.a.manager)
    before = await gql(query, token=token)
    assert before["data"]["notifications"]["edges"][0]["node"]["interview"] is not None
    # The project moves to another account manager: the old one keeps the message only.
    world.a.project.account_manager_id = world.b.manager.id
    session.add(world.a.project)
    await session.commit()
    after = await gql(query, token=token)
    assert after["data"]["notifications"]["edges"][0]["node"] == {
        "kind": "REQUEST_SENT",
        "interview": None,
    }


async def test_staff_proposal_lists_hold_only_the_organizations_they_see(
    gql: GraphQLClient, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    world = await make_world(session)
    await make_interview(session, settings, world.a, clock.now)
    await make_interview(session, settings, world.b, clock.now)
    # myApplications is the candidate's own list now; staff browse with `proposals`.
    query = "{ proposals(first: 100) { edges { node { id } } } }"
    expected = {
        world.a.member: [world.a.proposal],
        world.a.colleague: [world.a.proposal],
        world.b.member: [world.b.proposal],
        world.a.manager: [world.a.proposal],
        world.b.manager: [world.b.proposal],
    }
    for user, proposals in expected.items():
        body = await gql(query, token=world.token(user))
        ids = [e["node"]["id"] for e in body["data"]["proposals"]["edges"]]
        assert ids == [str(p.id) for p in proposals], user.email
    body = await gql(query, token=world.token(world.admin))
    ids = {e["node"]["id"] for e in body["data"]["proposals"]["edges"]}
    assert ids == {str(world.a.proposal.id), str(world.b.proposal.id)}
