"""The lists screens are built on: organizations, people, projects, proposals, attention.

Every list is filtered in SQL by what the viewer may see (app.access), paged by keyset and
counted on request; admins see everything, so these are also the admins' browsing tools.
"""

from __future__ import annotations

import uuid

import strawberry

from app.models import Role
from app.people.listing import BY_NAME_ORG, BY_NAME_USER, organizations_query, users_query
from app.scheduling.browsing import (
    NEWEST_PROJECTS,
    NEWEST_PROPOSALS,
    NEWEST_REQUESTS,
    attention_query,
    attention_reasons,
    projects_query,
    proposals_query,
)
from app.scheduling.browsing import AttentionReason as DomainAttentionReason
from app.schema.connections import Connection, query_connection
from app.schema.context import Info
from app.schema.ids import try_parse_id
from app.schema.organizations import Organization
from app.schema.permissions import IsAuthenticated
from app.schema.prefetch import prefetch_interviews, selected_below
from app.schema.types import Interview, Project, Proposal, ProposalStatus, User

strawberry.enum(DomainAttentionReason)
AttentionReason = DomainAttentionReason
NO_MATCH = uuid.UUID(int=0)


@strawberry.type
class AttentionItem:
    interview: Interview

    @strawberry.field(description="Why the interview is on the list; one or more.")
    async def reasons(self, info: Info) -> list[AttentionReason]:
        model = self.interview.model
        participants = await info.context.loaders.participants_by_interview.load(model.id)
        return attention_reasons(model, participants)


def _filter_id(value: strawberry.ID | None) -> uuid.UUID | None:
    """An id filter; a malformed id matches nothing, like an id that does not exist."""
    if value is None:
        return None
    return try_parse_id(value) or NO_MATCH


@strawberry.type
class BrowsingQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="An organization you may browse (yours, or one you serve); else null.",
    )
    async def organization(self, info: Info, id: strawberry.ID) -> Organization | None:
        org_id = try_parse_id(id)
        viewer = info.context.require_viewer()
        if org_id is None or not viewer.sees_organization(org_id):
            return None
        row = await info.context.loaders.organization_by_id.load(org_id)
        return Organization.of(row) if row is not None else None

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Organizations you may browse, by name; search: part of the name.",
    )
    async def organizations(
        self,
        info: Info,
        search: str | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[Organization]:
        query = organizations_query(viewer=info.context.require_viewer(), search=search)
        return await query_connection(
            info, query, BY_NAME_ORG, first=first, after=after, node=Organization.of
        )

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description=(
            "People by name: admins see everyone; members and account managers the people of "
            "the organizations they may browse. search: part of the name or email."
        ),
    )
    async def users(
        self,
        info: Info,
        search: str | None = None,
        role: Role | None = None,
        organization_id: strawberry.ID | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[User]:
        query = users_query(
            viewer=info.context.require_viewer(),
            search=search,
            role=role,
            organization_id=_filter_id(organization_id),
        )
        return await query_connection(
            info, query, BY_NAME_USER, first=first, after=after, node=User.of
        )

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Projects you may browse, newest first; search: part of the title.",
    )
    async def projects(
        self,
        info: Info,
        organization_id: strawberry.ID | None = None,
        search: str | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[Project]:
        query = projects_query(
            viewer=info.context.require_viewer(),
            organization_id=_filter_id(organization_id),
            search=search,
        )
        return await query_connection(
            info,
            query,
            NEWEST_PROJECTS,
            first=first,
            after=after,
            node=lambda row: Project.of(row),
        )

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description=(
            "Proposals you may see, newest first, by project, organization and status; "
            "search: part of the candidate's name or email, or of the project title."
        ),
    )
    async def proposals(
        self,
        info: Info,
        project_id: strawberry.ID | None = None,
        organization_id: strawberry.ID | None = None,
        status: ProposalStatus | None = None,
        search: str | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[Proposal]:
        query = proposals_query(
            viewer=info.context.require_viewer(),
            project_id=_filter_id(project_id),
            organization_id=_filter_id(organization_id),
            status=status,
            search=search,
        )
        return await query_connection(
            info,
            query,
            NEWEST_PROPOSALS,
            first=first,
            after=after,
            node=lambda row: Proposal.of(row),
        )

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description=(
            "Interviews that need someone to act, newest request first: other times "
            "requested, not booked after the reminder, a failed calendar write or invite. "
            "Account managers: their organizations; members: their own interviews; admins: all."
        ),
    )
    async def needs_attention(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[AttentionItem]:
        query = attention_query(viewer=info.context.require_viewer())
        page = await query_connection(
            info,
            query,
            NEWEST_REQUESTS,
            first=first,
            after=after,
            node=lambda row: AttentionItem(interview=Interview.of(row)),
        )
        wanted = selected_below(info, "edges", "node", "interview")
        await prefetch_interviews(info, [edge.node.interview for edge in page.edges], wanted)
        return page
