"""`me` and the admin mutations that feed Roundtable its organizations, people and proposals."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ErrorCode, ServiceError
from app.links.access import LinkAction
from app.people import service, tokens
from app.schema.context import Info
from app.schema.errors import UserError, forbidden, user_errors
from app.schema.ids import parse_id
from app.schema.organizations import Organization
from app.schema.permissions import IsAuthenticated, IsAuthenticatedOrLink
from app.schema.types import ApiToken, Project, Proposal, Role, User

T = TypeVar("T")


@strawberry.input
class CreateOrganizationInput:
    name: str


@strawberry.input
class CreateUserInput:
    email: str
    name: str
    role: Role
    time_zone: str
    organization_id: strawberry.ID | None = None


@strawberry.input
class CreateProjectInput:
    organization_id: strawberry.ID
    title: str
    account_manager_id: strawberry.ID


@strawberry.input
class CreateProposalInput:
    project_id: strawberry.ID
    candidate_id: strawberry.ID


@strawberry.input
class UpdateUserInput:
    id: strawberry.ID
    email: str | None = None
    name: str | None = None
    role: Role | None = None
    time_zone: str | None = None
    organization_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="Leave out to keep; null to remove (only non-members have none).",
    )


@strawberry.input
class UpdateMeInput:
    name: str | None = None
    time_zone: str | None = strawberry.field(
        default=None, description="IANA name; mails and invites use it from now on."
    )


@strawberry.type
class OrganizationPayload:
    organization: Organization | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class UserPayload:
    user: User | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ProjectPayload:
    project: Project | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ProposalPayload:
    proposal: Proposal | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ApiTokenPayload:
    token: str | None = strawberry.field(
        default=None, description="The secret, on issue only: shown once; store it now."
    )
    api_token: ApiToken | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RevokeApiTokensPayload:
    revoked_count: int = strawberry.field(
        default=0, description="Live tokens revoked now (already revoked or expired ones not)."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


async def _as_admin(
    info: Info, work: Callable[[AsyncSession], Awaitable[T]]
) -> tuple[T | None, list[UserError]]:
    if not info.context.require_viewer().is_admin:
        return None, forbidden()
    result, errors = await info.context.unit_of_work(work)
    return result, user_errors(errors)


def _id(value: str | None, field: str) -> uuid.UUID | None:
    return None if value is None else parse_id(value, field)


@strawberry.type
class PeopleQuery:
    @strawberry.field(permission_classes=[IsAuthenticated])
    def me(self, info: Info) -> User:
        return User.of(info.context.require_viewer().user)


@strawberry.type
class AdminMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def create_organization(
        self, info: Info, input: CreateOrganizationInput
    ) -> OrganizationPayload:
        org, errors = await _as_admin(
            info, lambda s: service.create_organization(session=s, name=input.name)
        )
        return OrganizationPayload(
            organization=Organization.of(org) if org else None, errors=errors
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def create_user(self, info: Info, input: CreateUserInput) -> UserPayload:
        async def work(session: AsyncSession) -> Any:
            return await service.create_user(
                session=session,
                email=input.email,
                name=input.name,
                role=input.role,
                time_zone=input.time_zone,
                organization_id=_id(input.organization_id, "organizationId"),
            )

        user, errors = await _as_admin(info, work)
        return UserPayload(user=User.of(user) if user else None, errors=errors)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def create_project(self, info: Info, input: CreateProjectInput) -> ProjectPayload:
        async def work(session: AsyncSession) -> Any:
            return await service.create_project(
                session=session,
                organization_id=parse_id(input.organization_id, "organizationId"),
                title=input.title,
                account_manager_id=parse_id(input.account_manager_id, "accountManagerId"),
            )

        project, errors = await _as_admin(info, work)
        return ProjectPayload(project=Project.of(project) if project else None, errors=errors)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def create_proposal(self, info: Info, input: CreateProposalInput) -> ProposalPayload:
        async def work(session: AsyncSession) -> Any:
            return await service.create_proposal(
                session=session,
                project_id=parse_id(input.project_id, "projectId"),
                candidate_id=parse_id(input.candidate_id, "candidateId"),
            )

        proposal, errors = await _as_admin(info, work)
        return ProposalPayload(proposal=Proposal.of(proposal) if proposal else None, errors=errors)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Admins: change a user's name, email, role, time zone or organization.",
    )
    async def update_user(self, info: Info, input: UpdateUserInput) -> UserPayload:
        given = input.organization_id is not strawberry.UNSET
        changes = service.UserChanges(
            email=input.email,
            name=input.name,
            role=input.role,
            time_zone=input.time_zone,
            organization_given=given,
            organization_id=_id(input.organization_id, "organizationId") if given else None,
        )

        async def work(session: AsyncSession) -> Any:
            return await service.update_user(
                session=session, user_id=parse_id(input.id, "id", "user"), changes=changes
            )

        user, errors = await _as_admin(info, work)
        return UserPayload(user=User.of(user) if user else None, errors=errors)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Admin only. The user's other tokens stay valid (one per integration); to "
            "rotate, send revokeAllApiTokens then issueApiToken in one mutation operation "
            "(root mutation fields run in order). Tokens expire after "
            "ROUNDTABLE_API_TOKEN_LIFETIME_DAYS."
        ),
    )
    async def issue_api_token(self, info: Info, user_id: strawberry.ID) -> ApiTokenPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> tokens.IssuedToken:
            user = await service.get_user(session=session, user_id=parse_id(user_id, "userId"))
            return await tokens.issue_token(
                session=session,
                user=user,
                lifetime=timedelta(days=ctx.settings.api_token_lifetime_days),
                now=ctx.clock(),
            )

        issued, errors = await _as_admin(info, work)
        if issued is None:
            return ApiTokenPayload(errors=errors)
        return ApiTokenPayload(token=issued.token, api_token=ApiToken.of(issued.row))


@strawberry.type
class ApiTokenMutation:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Your own token, or anyone's for an admin; revoking twice is harmless.",
    )
    async def revoke_api_token(self, info: Info, id: strawberry.ID) -> ApiTokenPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> Any:
            return await tokens.revoke(
                session=session,
                viewer=ctx.require_viewer(),
                token_id=parse_id(id, "id", "API token"),
                now=ctx.clock(),
            )

        row, errors = await ctx.unit_of_work(work)
        return ApiTokenPayload(
            api_token=ApiToken.of(row) if row else None, errors=user_errors(errors)
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Every live token of a user: yourself, or anyone for an admin.",
    )
    async def revoke_all_api_tokens(
        self, info: Info, user_id: strawberry.ID
    ) -> RevokeApiTokensPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> int:
            return await tokens.revoke_all_of(
                session=session,
                viewer=ctx.require_viewer(),
                user_id=parse_id(user_id, "userId"),
                now=ctx.clock(),
            )

        count, errors = await ctx.unit_of_work(work)
        return RevokeApiTokensPayload(revoked_count=count or 0, errors=user_errors(errors))


def _profile_owner(info: Info, input: UpdateMeInput) -> uuid.UUID:
    """Whose profile: the bearer token's user, or a candidate's link (time zone only)."""
    context = info.context
    if context.viewer is not None:
        return context.viewer.id
    link = context.link
    if link is None or link.user is None or LinkAction.UPDATE_TIME_ZONE not in link.actions:
        raise ServiceError.one(ErrorCode.FORBIDDEN, "this link cannot change a profile")
    if input.name is not None:
        raise ServiceError.one(
            ErrorCode.FORBIDDEN, "a mail link can change the time zone only", "name"
        )
    return link.user.id


@strawberry.type
class MeMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticatedOrLink])
    async def update_me(self, info: Info, input: UpdateMeInput) -> UserPayload:
        async def work(session: AsyncSession) -> Any:
            return await service.update_me(
                session=session,
                user_id=_profile_owner(info, input),
                name=input.name,
                time_zone=input.time_zone,
            )

        user, errors = await info.context.unit_of_work(work)
        return UserPayload(user=User.of(user) if user else None, errors=user_errors(errors))
