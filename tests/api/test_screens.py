"""The help articles' team and admin screens, built from queries alone, with query counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Role
from app.people import service
from tests.conftest import Clock, GraphQLClient, new_id
from tests.factories import World, make_interview, make_user, make_world

ORGANIZATION_PAGE = """{
  me { organization {
    id name
    projects(first: 100) { totalCount edges { node { id title accountManager { name } } } }
    members(first: 100) { totalCount edges { node { id name email } } }
  } }
}"""
PROPOSALS = """query($project: ID, $status: ProposalStatus, $first: Int, $after: String) {
  proposals(projectId: $project, status: $status, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node {
      id status candidate { id name } project { id title organization { name } }
      interviews(last: 3) { round status participants { email } }
    } }
  }
}"""


async def _candidates(session: AsyncSession, world: World, n: int) -> None:
    for _ in range(n):
        candidate = await make_user(session, Role.CANDIDATE)
        await service.create_proposal(
            session=session, project_id=world.a.project.id, candidate_id=candidate.id
        )
    await session.commit()


async def test_a_member_sees_their_organization_projects_and_colleagues(
    gql: GraphQLClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    body = await gql(ORGANIZATION_PAGE, token=world.token(world.a.member))
    org = body["data"]["me"]["organization"]
    assert org["id"] == str(world.a.organization.id)
    assert [e["node"]["title"] for e in org["projects"]["edges"]] == ["Project A"]
    assert org["projects"]["totalCount"] == 1
    names = {e["node"]["id"] for e in org["members"]["edges"]}
    assert names == {str(world.a.member.id), str(world.a.colleague.id)}
    assert org["members"]["totalCount"] == 2


async def test_proposals_page_through_and_count_with_a_fixed_number_of_queries(
    gql: GraphQLClient,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    count_queries: Any,
) -> None:
    world = await make_world(session)
    await make_interview(session, settings, world.a, clock.now)
    token = world.token(world.a.member)
    variables = {"project": str(world.a.project.id), "status": "OPEN", "first": 100}
    # A token's first use of the minute records it (one UPDATE): count the requests after.
    await gql(PROPOSALS, variables, token=token)
    with count_queries() as few:
        small = await gql(PROPOSALS, variables, token=token)
    await _candidates(session, world, 12)
    with count_queries() as many:
        large = await gql(PROPOSALS, variables, token=token)
    assert small["data"]["proposals"]["totalCount"] == 1
    assert large["data"]["proposals"]["totalCount"] == 13
    assert len(large["data"]["proposals"]["edges"]) == 13
    assert few.count == many.count <= 12  # auth, the page, the count, one per loader

    seen: list[str] = []
    after = None
    while True:
        page = (await gql(PROPOSALS, {**variables, "first": 5, "after": after}, token=token))[
            "data"
        ]["proposals"]
        info = page["pageInfo"]
        assert info["hasPreviousPage"] is (after is not None)
        assert info["startCursor"] == page["edges"][0]["cursor"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert len(seen) == len(set(seen)) == 13


async def test_proposals_filter_by_status_and_stay_within_the_organization(
    gql: GraphQLClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    token = world.token(world.a.member)
    hired = await gql(PROPOSALS, {"status": "HIRED"}, token=token)
    assert hired["data"]["proposals"]["totalCount"] == 0
    other = await gql(PROPOSALS, {"project": str(world.b.project.id)}, token=token)
    malformed = await gql(PROPOSALS, {"project": "not-an-id"}, token=token)
    assert other["data"]["proposals"] == malformed["data"]["proposals"]
    assert other["data"]["proposals"]["edges"] == []
    everything = await gql(PROPOSALS, {}, token=token)
    assert [e["node"]["id"] for e in everything["data"]["proposals"]["edges"]] == [
        str(world.a.proposal.id)
    ]


async def test_organizations_of_others_read_as_absent(
    gql: GraphQLClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    query = "query($id: ID!) { organization(id: $id) { id projects { totalCount } } }"
    token = world.token(world.a.member)
    own = await gql(query, {"id": str(world.a.organization.id)}, token=token)
    assert own["data"]["organization"]["projects"]["totalCount"] == 1
    for other in [str(world.b.organization.id), new_id(), "nope"]:
        assert (await gql(query, {"id": other}, token=token))["data"] == {"organization": None}
    manager = await gql(
        query, {"id": str(world.b.organization.id)}, token=world.token(world.b.manager)
    )
    assert manager["data"]["organization"]["id"] == str(world.b.organization.id)


async def test_a_candidate_browses_nothing_but_their_own_proposals(
    gql: GraphQLClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    token = world.token(world.a.candidate)
    body = await gql(
        "{ organizations { totalCount } users { totalCount } projects { totalCount }"
        " proposals { edges { node { id } } } needsAttention { totalCount }"
        " myApplications { proposal { id project { organization { name projects { totalCount } } } } } }",
        token=token,
    )
    data = body["data"]
    assert data["organizations"]["totalCount"] == 0
    assert data["users"]["totalCount"] == 0
    assert data["projects"]["totalCount"] == 0
    assert data["needsAttention"]["totalCount"] == 0
    assert [e["node"]["id"] for e in data["proposals"]["edges"]] == [str(world.a.proposal.id)]
    [application] = data["myApplications"]
    # The candidate may know whom they applied to, not browse the organization.
    assert application["proposal"]["project"]["organization"] == {
        "name": "Org A",
        "projects": {"totalCount": 0},
    }


async def test_my_applications_is_empty_for_staff_and_members(
    gql: GraphQLClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    for user in [world.a.member, world.a.manager, world.admin]:
        body = await gql("{ myApplications { proposal { id } } }", token=world.token(user))
        assert body["data"]["myApplications"] == []


ADMIN_BROWSE = """query($search: String, $role: Role) {
  organizations(search: $search) { totalCount edges { node { name } } }
  users(search: $search, role: $role, first: 100) { totalCount edges { node { email role organization { name } } } }
  projects(search: $search) { totalCount edges { node { title organization { name } } } }
  proposals(search: $search) { totalCount edges { node { candidate { email } project { title } } } }
}"""


async def test_admins_list_and_search_everything(
    gql: GraphQLClient, session: AsyncSession, count_queries: Any
) -> None:
    world = await make_world(session)
    token = world.token(world.admin)
    everything = (await gql(ADMIN_BROWSE, {}, token=token))["data"]
    assert everything["organizations"]["totalCount"] == 2
    assert everything["users"]["totalCount"] == 9
    assert everything["projects"]["totalCount"] == 2
    assert everything["proposals"]["totalCount"] == 2
    by_org = (await gql(ADMIN_BROWSE, {"search": "org b"}, token=token))["data"]
    assert [e["node"]["name"] for e in by_org["organizations"]["edges"]] == ["Org B"]
    by_email = (await gql(ADMIN_BROWSE, {"search": world.b.candidate.email.upper()}, token=token))[
        "data"
    ]
    assert [e["node"]["email"] for e in by_email["users"]["edges"]] == [world.b.candidate.email]
    assert [e["node"]["candidate"]["email"] for e in by_email["proposals"]["edges"]] == [
        world.b.candidate.email
    ]
    managers = (await gql(ADMIN_BROWSE, {"role": "ACCOUNT_MANAGER"}, token=token))["data"]
    assert managers["users"]["totalCount"] == 2
    wildcard = (await gql(ADMIN_BROWSE, {"search": "%"}, token=token))["data"]
    assert wildcard["users"]["totalCount"] == 0  # LIKE wildcards are literal

    with count_queries() as before:
        await gql(ADMIN_BROWSE, {}, token=token)
    for n in range(10):
        org = await service.create_organization(session=session, name=f"More {n}")
        await make_user(session, Role.HIRING_MEMBER, organization=org)
    await session.commit()
    with count_queries() as after:
        grown = (await gql(ADMIN_BROWSE, {}, token=token))["data"]
    assert grown["organizations"]["totalCount"] == 12
    assert before.count == after.count


async def test_members_list_only_their_organizations_people(
    gql: GraphQLClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    body = await gql(
        "{ users(first: 100) { edges { node { id } } } }", token=world.token(world.a.member)
    )
    ids = {e["node"]["id"] for e in body["data"]["users"]["edges"]}
    assert ids == {str(world.a.member.id), str(world.a.colleague.id)}


UPDATE_USER = """mutation($input: UpdateUserInput!) {
  updateUser(input: $input) { user { id name timeZone role organizationId } errors { code field } }
}"""


async def test_admins_update_users_by_the_rules_of_new_users(
    gql: GraphQLClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    token = world.token(world.admin)
    changed = await gql(
        UPDATE_USER,
        {"input": {"id": str(world.a.member.id), "name": "Renamed", "timeZone": "Europe/Paris"}},
        token=token,
    )
    user = changed["data"]["updateUser"]["user"]
    assert (user["name"], user["timeZone"], user["role"]) == (
        "Renamed",
        "Europe/Paris",
        "HIRING_MEMBER",
    )
    assert user["organizationId"] == str(world.a.organization.id)  # left out: kept

    moved = await gql(
        UPDATE_USER,
        {
            "input": {
                "id": str(world.a.colleague.id),
                "organizationId": str(world.b.organization.id),
            }
        },
        token=token,
    )
    assert moved["data"]["updateUser"]["user"]["organizationId"] == str(world.b.organization.id)

    for wrong, field in [
        ({"timeZone": "Mars/Base"}, "timeZone"),
        ({"email": world.b.member.email}, "email"),
        ({"organizationId": None}, "organizationId"),  # a member belongs to one
        ({"role": "CANDIDATE"}, "organizationId"),
    ]:
        body = await gql(
            UPDATE_USER, {"input": {"id": str(world.a.member.id), **wrong}}, token=token
        )
        assert [e["field"] for e in body["data"]["updateUser"]["errors"]] == [field], wrong
    manager = await gql(
        UPDATE_USER, {"input": {"id": str(world.a.manager.id), "role": "ADMIN"}}, token=token
    )
    assert manager["data"]["updateUser"]["errors"] == [{"code": "VALIDATION", "field": "role"}]
    unknown = await gql(UPDATE_USER, {"input": {"id": new_id(), "name": "X"}}, token=token)
    assert unknown["data"]["updateUser"]["errors"] == [{"code": "NOT_FOUND", "field": "id"}]
    forbidden = await gql(
        UPDATE_USER,
        {"input": {"id": str(world.a.member.id), "name": "Mine"}},
        token=world.token(world.a.manager),
    )
    assert forbidden["data"]["updateUser"]["errors"][0]["code"] == "FORBIDDEN"
    me = await gql("{ me { name } }", token=world.token(world.a.member))
    assert me["data"]["me"]["name"] == "Renamed"


async def test_the_organization_page_costs_the_same_as_it_grows(
    gql: GraphQLClient, session: AsyncSession, count_queries: Any
) -> None:
    world = await make_world(session)
    token = world.token(world.a.member)
    await gql(ORGANIZATION_PAGE, token=token)  # the token's use of the minute recorded
    with count_queries() as small:
        await gql(ORGANIZATION_PAGE, token=token)
    for n in range(10):
        await make_user(session, Role.HIRING_MEMBER, organization=world.a.organization)
        await service.create_project(
            session=session,
            organization_id=world.a.organization.id,
            title=f"Role {n}",
            account_manager_id=world.b.manager.id,
        )
    await session.commit()
    with count_queries() as large:
        body = await gql(ORGANIZATION_PAGE, token=token)
    org = body["data"]["me"]["organization"]
    assert (org["projects"]["totalCount"], org["members"]["totalCount"]) == (11, 12)
    assert {e["node"]["accountManager"]["name"] for e in org["projects"]["edges"]} == {
        world.a.manager.name,
        world.b.manager.name,
    }
    assert small.count == large.count <= 8
