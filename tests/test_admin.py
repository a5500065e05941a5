"""Admin mutations: how the marketplace feeds Roundtable; bad input writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ApiToken, Organization, Project, Proposal, User
from tests.conftest import GraphQLClient, new_id
from tests.factories import World, make_world

CREATE_ORG = """mutation($name: String!) {
  createOrganization(input: {name: $name}) { organization { id name } errors { code field message } }
}"""
CREATE_USER = """mutation($input: CreateUserInput!) {
  createUser(input: $input) { user { id email role timeZone } errors { code field message } }
}"""
CREATE_PROJECT = """mutation($input: CreateProjectInput!) {
  createProject(input: $input) { project { id title } errors { code field message } }
}"""
CREATE_PROPOSAL = """mutation($input: CreateProposalInput!) {
  createProposal(input: $input) { proposal { id status } errors { code field message } }
}"""
ISSUE_TOKEN = """mutation($id: ID!) {
  issueApiToken(userId: $id) { token errors { code field message } }
}"""


async def counts(session: AsyncSession) -> dict[str, int]:
    result = {}
    for model in (Organization, User, Project, Proposal, ApiToken):
        result[model.__name__] = await session.scalar(select(func.count()).select_from(model)) or 0
    await session.commit()
    return result


@pytest.fixture
async def world(session: AsyncSession) -> World:
    return await make_world(session)


async def test_admin_creates_a_whole_hiring_setup(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    token = world.token(world.admin)
    org = (await gql(CREATE_ORG, {"name": "Initech"}, token=token))["data"]["createOrganization"]
    assert org["errors"] == []
    org_id = org["organization"]["id"]
    manager = await gql(
        CREATE_USER,
        {
            "input": {
                "email": "Mgr@Initech.com",
                "name": "M",
                "role": "ACCOUNT_MANAGER",
                "timeZone": "Europe/Paris",
            }
        },
        token=token,
    )
    assert manager["data"]["createUser"]["user"]["email"] == "mgr@initech.com"
    candidate = await gql(
        CREATE_USER,
        {
            "input": {
                "email": "cand@mail.com",
                "name": "C",
                "role": "CANDIDATE",
                "timeZone": "Asia/Kathmandu",
            }
        },
        token=token,
    )
    project = await gql(
        CREATE_PROJECT,
        {
            "input": {
                "organizationId": org_id,
                "title": "Data Engineer",
                "accountManagerId": manager["data"]["createUser"]["user"]["id"],
            }
        },
        token=token,
    )
    proposal = await gql(
        CREATE_PROPOSAL,
        {
            "input": {
                "projectId": project["data"]["createProject"]["project"]["id"],
                "candidateId": candidate["data"]["createUser"]["user"]["id"],
            }
        },
        token=token,
    )
    assert proposal["data"]["createProposal"]["proposal"]["status"] == "OPEN"
    issued = await gql(
        ISSUE_TOKEN, {"id": candidate["data"]["createUser"]["user"]["id"]}, token=token
    )
    new_token = issued["data"]["issueApiToken"]["token"]
    me = await gql("{ me { email } }", token=new_token)
    assert me["data"]["me"]["email"] == "cand@mail.com"
    stored = await session.scalars(select(ApiToken.token_hash))
    assert new_token not in list(stored)  # only the hash is kept


BAD_USERS: list[tuple[dict[str, Any], str, str]] = [
    (
        {"email": "not-an-email", "name": "X", "role": "CANDIDATE", "timeZone": "UTC"},
        "VALIDATION",
        "email",
    ),
    (
        {"email": "x@y.com", "name": "X", "role": "CANDIDATE", "timeZone": "Mars/Olympus"},
        "VALIDATION",
        "timeZone",
    ),
    (
        {
            "email": "x@y.com",
            "name": "X",
            "role": "HIRING_MEMBER",
            "timeZone": "UTC",
            "organizationId": new_id(),
        },
        "NOT_FOUND",
        "organizationId",
    ),
    (
        {"email": "x@y.com", "name": "X", "role": "HIRING_MEMBER", "timeZone": "UTC"},
        "VALIDATION",
        "organizationId",
    ),
    (
        {"email": "x@y.com", "name": "   ", "role": "CANDIDATE", "timeZone": "UTC"},
        "VALIDATION",
        "name",
    ),
]


@pytest.mark.parametrize(("payload", "code", "field"), BAD_USERS)
async def test_create_user_rejects_bad_input_and_writes_nothing(
    gql: GraphQLClient,
    world: World,
    session: AsyncSession,
    payload: dict[str, Any],
    code: str,
    field: str,
) -> None:
    before = await counts(session)
    body = await gql(CREATE_USER, {"input": payload}, token=world.token(world.admin))
    result = body["data"]["createUser"]
    assert result["user"] is None
    assert {"code": code, "field": field} in [
        {"code": e["code"], "field": e["field"]} for e in result["errors"]
    ]
    assert await counts(session) == before


async def test_duplicate_email_is_rejected_case_insensitively(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    before = await counts(session)
    body = await gql(
        CREATE_USER,
        {
            "input": {
                "email": world.a.candidate.email.upper(),
                "name": "Twin",
                "role": "CANDIDATE",
                "timeZone": "UTC",
            }
        },
        token=world.token(world.admin),
    )
    errors = body["data"]["createUser"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("VALIDATION", "email")]
    assert await counts(session) == before


@pytest.mark.parametrize(
    ("mutation", "variables", "field"),
    [
        (
            CREATE_PROJECT,
            {"input": {"organizationId": new_id(), "title": "T", "accountManagerId": new_id()}},
            "organizationId",
        ),
        (
            CREATE_PROJECT,
            {"input": {"organizationId": "nope", "title": "T", "accountManagerId": new_id()}},
            "organizationId",
        ),
        (CREATE_PROPOSAL, {"input": {"projectId": new_id(), "candidateId": new_id()}}, "projectId"),
        (ISSUE_TOKEN, {"id": new_id()}, "userId"),
    ],
)
async def test_unknown_ids_are_not_found_and_write_nothing(
    gql: GraphQLClient,
    world: World,
    session: AsyncSession,
    mutation: str,
    variables: dict[str, Any],
    field: str,
) -> None:
    before = await counts(session)
    body = await gql(mutation, variables, token=world.token(world.admin))
    (payload,) = body["data"].values()
    assert ("NOT_FOUND", field) in [(e["code"], e["field"]) for e in payload["errors"]]
    assert await counts(session) == before


async def test_proposal_for_a_non_candidate_or_twice_is_rejected(
    gql: GraphQLClient, world: World, session: AsyncSession
) -> None:
    token = world.token(world.admin)
    not_candidate = await gql(
        CREATE_PROPOSAL,
        {"input": {"projectId": str(world.a.project.id), "candidateId": str(world.a.member.id)}},
        token=token,
    )
    assert not_candidate["data"]["createProposal"]["errors"][0]["field"] == "candidateId"
    twice = await gql(
        CREATE_PROPOSAL,
        {"input": {"projectId": str(world.a.project.id), "candidateId": str(world.a.candidate.id)}},
        token=token,
    )
    assert twice["data"]["createProposal"]["errors"][0]["code"] == "VALIDATION"


@pytest.mark.parametrize("who", ["member", "manager", "candidate"])
async def test_admin_mutations_are_forbidden_to_others(
    gql: GraphQLClient, world: World, session: AsyncSession, who: str
) -> None:
    before = await counts(session)
    user = getattr(world.a, who)
    body = await gql(CREATE_ORG, {"name": "Sneaky"}, token=world.token(user))
    assert body["data"]["createOrganization"]["errors"][0]["code"] == "FORBIDDEN"
    body = await gql(ISSUE_TOKEN, {"id": str(world.admin.id)}, token=world.token(user))
    assert body["data"]["issueApiToken"] == {
        "token": None,
        "errors": [{"code": "FORBIDDEN", "field": None, "message": "only admins can do this"}],
    }
    assert await counts(session) == before
