"""Who may see and do what (SPEC section 1): role x object x operation, as plain rules.

The SQL filter of listings and the check on a loaded object must agree with the table
below and with each other, for any mix of users, organizations and proposals.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.sql import Select

from app.access import Viewer, load_viewer
from app.errors import ErrorCode, ServiceError
from app.models import (
    Interview,
    InterviewStatus,
    Project,
    Proposal,
    ProposalStatus,
    Role,
    User,
)
from app.scheduling import access as scheduling_access
from app.scheduling import repository
from tests.unit.sql_eval import evaluate

ORGS = [uuid.UUID(int=n) for n in range(1, 4)]
SESSION: Any = object()  # stands for the caller's session: passed through to every query
PEOPLE = [uuid.UUID(int=100 + n) for n in range(4)]


def user(role: Role, organization: uuid.UUID | None = None, id: uuid.UUID | None = None) -> User:
    return User(
        id=id or uuid.uuid4(),
        role=role,
        organization_id=organization,
        email="x@example.com",
        name="X",
        time_zone="UTC",
    )


def project(organization: uuid.UUID) -> Project:
    return Project(id=uuid.uuid4(), organization_id=organization, title="P")


def proposal(
    of: Project, candidate: uuid.UUID, status: ProposalStatus = ProposalStatus.OPEN
) -> Proposal:
    return Proposal(id=uuid.uuid4(), project_id=of.id, candidate_id=candidate, status=status)


def expected_view(viewer: Viewer, candidate: uuid.UUID, organization: uuid.UUID) -> bool:
    """The table of SPEC section 1, written out."""
    role, me = viewer.user.role, viewer.user
    if role is Role.ADMIN:
        return True
    if role is Role.HIRING_MEMBER:
        return me.organization_id is not None and me.organization_id == organization
    if role is Role.ACCOUNT_MANAGER:
        return organization in viewer.managed_organization_ids
    return candidate == me.id


def expected_act(viewer: Viewer, organization: uuid.UUID) -> bool:
    role = viewer.user.role
    if role is Role.ADMIN:
        return True
    return role is Role.HIRING_MEMBER and viewer.user.organization_id == organization


viewers = st.builds(
    lambda role, org, managed, me: Viewer(
        user(role, org if role is Role.HIRING_MEMBER else None, id=me),
        frozenset(managed) if role is Role.ACCOUNT_MANAGER else frozenset(),
    ),
    st.sampled_from(list(Role)),
    st.one_of(st.none(), st.sampled_from(ORGS)),
    st.sets(st.sampled_from(ORGS)),
    st.sampled_from(PEOPLE),
)


@settings(max_examples=400, deadline=None)
@given(viewer=viewers, organization=st.sampled_from(ORGS), candidate=st.sampled_from(PEOPLE))
def test_viewing_and_acting_follow_the_table_and_the_filter_agrees(
    viewer: Viewer, organization: uuid.UUID, candidate: uuid.UUID
) -> None:
    of = project(organization)
    applied = proposal(of, candidate)
    expected = expected_view(viewer, candidate, organization)
    assert viewer.can_view_proposal(applied, of) is expected
    assert evaluate(viewer.proposal_filter(), {"proposals": applied, "projects": of}) is expected
    assert viewer.can_act_for_organization(organization) is expected_act(viewer, organization)
    if viewer.user.role is not Role.CANDIDATE:
        assert viewer.sees_organization(organization) is expected_view(
            viewer, uuid.uuid4(), organization
        )
    else:
        assert viewer.sees_organization(organization) is False


def test_the_viewer_reads_its_user() -> None:
    me = user(Role.ADMIN)
    viewer = Viewer(me)
    assert (viewer.id, viewer.role, viewer.is_admin) == (me.id, Role.ADMIN, True)
    assert viewer.managed_organization_ids == frozenset()
    for role in (Role.HIRING_MEMBER, Role.ACCOUNT_MANAGER, Role.CANDIDATE):
        assert Viewer(user(role, ORGS[0])).is_admin is False


@dataclass
class FakeSession:
    """Answers the one query load_viewer makes, and keeps it for a look."""

    rows: list[uuid.UUID]
    statements: list[Select[Any]]

    async def scalars(self, statement: Select[Any]) -> list[uuid.UUID]:
        self.statements.append(statement)
        return self.rows


async def test_an_account_manager_sees_the_organizations_of_their_projects() -> None:
    manager = user(Role.ACCOUNT_MANAGER)
    session = FakeSession([ORGS[0], ORGS[2]], [])
    viewer = await load_viewer(session, manager)  # type: ignore[arg-type]
    assert viewer.user is manager
    assert viewer.managed_organization_ids == frozenset({ORGS[0], ORGS[2]})
    [statement] = session.statements
    # The projects this manager is assigned to, each organization once.
    assigned = project(ORGS[0])
    assigned.account_manager_id = manager.id
    other = project(ORGS[1])
    other.account_manager_id = uuid.uuid4()
    where = statement.whereclause
    assert where is not None
    assert evaluate(where, {"projects": assigned}) and not evaluate(where, {"projects": other})
    assert statement._distinct
    assert [(c.table.name, c.key) for c in statement.selected_columns] == [  # type: ignore[attr-defined]
        ("projects", "organization_id")
    ]
    for role in (Role.ADMIN, Role.HIRING_MEMBER, Role.CANDIDATE):
        quiet = FakeSession([ORGS[0]], [])
        them = user(role, ORGS[1])
        plain = await load_viewer(quiet, them)  # type: ignore[arg-type]
        assert plain.user is them
        assert plain.managed_organization_ids == frozenset() and quiet.statements == []


# -- loading an interview or proposal for a viewer (app.scheduling.access) ------------------


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A repository in memory: one project of ORGS[0], a proposal and an interview on it."""
    of = project(ORGS[0])
    applied = proposal(of, PEOPLE[0])
    interview = Interview(id=uuid.uuid4(), proposal_id=applied.id, status=InterviewStatus.PENDING)
    relocked = Interview(id=interview.id, proposal_id=applied.id, status=InterviewStatus.BOOKED)
    calls: list[tuple[str, Any, bool]] = []

    async def get_proposal_and_project(
        session: Any, proposal_id: uuid.UUID, *, lock: bool = False
    ) -> tuple[Proposal, Project] | None:
        assert session is SESSION
        calls.append(("proposal", proposal_id, lock))
        return (applied, of) if proposal_id == applied.id else None

    async def get_interview(
        session: Any, interview_id: uuid.UUID, *, lock: bool = False
    ) -> Interview | None:
        assert session is SESSION
        calls.append(("interview", interview_id, lock))
        if interview_id != interview.id:
            return None
        return relocked if lock else interview

    async def interview_in_context(
        session: Any, interview_id: uuid.UUID, *, lock: bool
    ) -> tuple[Interview, Proposal, Project] | None:
        # One statement joins the three (the lock: proposal and interview, read afresh).
        assert session is SESSION
        calls.append(("interview in context", interview_id, lock))
        if interview_id != interview.id or interview.proposal_id != applied.id:
            return None
        return (relocked if lock else interview), applied, of

    async def get_interview_in_context(
        session: Any, interview_id: uuid.UUID
    ) -> tuple[Interview, Proposal, Project] | None:
        return await interview_in_context(session, interview_id, lock=False)

    async def lock_interview_in_context(
        session: Any, interview_id: uuid.UUID
    ) -> tuple[Interview, Proposal, Project] | None:
        return await interview_in_context(session, interview_id, lock=True)

    monkeypatch.setattr(repository, "get_proposal_and_project", get_proposal_and_project)
    monkeypatch.setattr(repository, "get_interview", get_interview)
    monkeypatch.setattr(repository, "get_interview_in_context", get_interview_in_context)
    monkeypatch.setattr(repository, "lock_interview_in_context", lock_interview_in_context)
    return {
        "project": of,
        "proposal": applied,
        "interview": interview,
        "relocked": relocked,
        "calls": calls,
    }


def not_found(exc: pytest.ExceptionInfo[ServiceError], field: str, what: str) -> None:
    [error] = exc.value.errors
    assert (error.code, error.field, error.message) == (
        ErrorCode.NOT_FOUND,
        field,
        f"{what} not found",
    )


async def test_a_proposal_is_found_only_by_who_may_see_it(stored: dict[str, Any]) -> None:
    applied = stored["proposal"]
    member = Viewer(user(Role.HIRING_MEMBER, ORGS[0]))
    found = await scheduling_access.proposal_for(SESSION, member, applied.id, lock=True)
    assert found == (applied, stored["project"])
    assert stored["calls"] == [("proposal", applied.id, True)]
    await scheduling_access.proposal_for(SESSION, member, applied.id)
    assert stored["calls"][-1] == ("proposal", applied.id, False)
    for viewer, proposal_id in [
        (Viewer(user(Role.HIRING_MEMBER, ORGS[1])), applied.id),
        (member, uuid.uuid4()),
    ]:
        with pytest.raises(ServiceError) as caught:
            await scheduling_access.proposal_for(SESSION, viewer, proposal_id)
        not_found(caught, "proposalId", "proposal")


async def test_an_interview_is_found_only_by_who_may_see_it_and_relocked(
    stored: dict[str, Any],
) -> None:
    interview, applied = stored["interview"], stored["proposal"]
    candidate = Viewer(user(Role.CANDIDATE, id=PEOPLE[0]))
    found = await scheduling_access.interview_for(SESSION, candidate, interview.id)
    assert (found.interview, found.proposal, found.project) == (
        interview,
        applied,
        stored["project"],
    )
    assert stored["calls"] == [("interview in context", interview.id, False)]
    stored["calls"].clear()
    locked = await scheduling_access.interview_for(SESSION, candidate, interview.id, lock=True)
    assert locked.interview is stored["relocked"], "read again under the proposal's lock"
    assert stored["calls"] == [("interview in context", interview.id, True)]
    for viewer, interview_id in [
        (Viewer(user(Role.CANDIDATE, id=PEOPLE[1])), interview.id),
        (candidate, uuid.uuid4()),
    ]:
        with pytest.raises(ServiceError) as caught:
            await scheduling_access.interview_for(SESSION, viewer, interview_id)
        not_found(caught, "interviewId", "interview")


async def test_an_interview_whose_proposal_is_gone_reads_as_not_found(
    stored: dict[str, Any],
) -> None:
    stored["interview"].proposal_id = uuid.uuid4()
    with pytest.raises(ServiceError) as caught:
        await scheduling_access.interview_for(
            SESSION, Viewer(user(Role.ADMIN)), stored["interview"].id
        )
    not_found(caught, "interviewId", "interview")


def test_only_the_team_acts_and_only_on_open_proposals() -> None:
    of = project(ORGS[0])
    scheduling_access.require_team(Viewer(user(Role.HIRING_MEMBER, ORGS[0])), of)
    scheduling_access.require_team(Viewer(user(Role.ADMIN)), of)
    # Account managers act for the teams they serve (SPEC section 1), for no other.
    scheduling_access.require_team(Viewer(user(Role.ACCOUNT_MANAGER), frozenset({ORGS[0]})), of)
    for outsider in (
        Viewer(user(Role.HIRING_MEMBER, ORGS[1])),
        Viewer(user(Role.ACCOUNT_MANAGER), frozenset({ORGS[1]})),
        Viewer(user(Role.CANDIDATE)),
    ):
        with pytest.raises(ServiceError) as caught:
            scheduling_access.require_team(outsider, of)
        [error] = caught.value.errors
        assert (error.code, error.field, error.message) == (
            ErrorCode.FORBIDDEN,
            "interviewId",
            "only the hiring team can do this",
        )
    scheduling_access.require_open(proposal(of, PEOPLE[0]))
    for status in (ProposalStatus.HIRED, ProposalStatus.CLOSED):
        with pytest.raises(ServiceError) as caught:
            scheduling_access.require_open(proposal(of, PEOPLE[0], status))
        [error] = caught.value.errors
        assert (error.code, error.field, error.message) == (
            ErrorCode.INVALID_STATE,
            "proposalId",
            f"the proposal is {status.value.lower()}: no more interviews on it",
        )
