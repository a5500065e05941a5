"""Who may see what (SPEC section 1), as SQL filters and as checks on loaded objects.

Objects a viewer may not see are reported as not found, so probing ids reveals nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Project, Proposal, Role, User


@dataclass(frozen=True)
class Viewer:
    user: User
    # Organizations of the projects an account manager is assigned to.
    managed_organization_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)

    @property
    def id(self) -> uuid.UUID:
        return self.user.id

    @property
    def role(self) -> Role:
        return self.user.role

    @property
    def is_admin(self) -> bool:
        return self.user.role is Role.ADMIN

    def sees_organization(self, organization_id: uuid.UUID) -> bool:
        """Whether the viewer sees every proposal and interview of this organization."""
        match self.user.role:
            case Role.ADMIN:
                return True
            case Role.HIRING_MEMBER:
                return self.user.organization_id == organization_id
            case Role.ACCOUNT_MANAGER:
                return organization_id in self.managed_organization_ids
            case _:
                return False

    def can_view_proposal(self, proposal: Proposal, project: Project) -> bool:
        if self.user.role is Role.CANDIDATE:
            return proposal.candidate_id == self.user.id
        return self.sees_organization(project.organization_id)

    def can_act_for_organization(self, organization_id: uuid.UUID) -> bool:
        """Requesting, editing and cancelling on the team's side: members and admins."""
        if self.is_admin:
            return True
        return self.user.role is Role.HIRING_MEMBER and self.user.organization_id == organization_id

    def can_schedule_for_organization(self, organization_id: uuid.UUID) -> bool:
        """Requesting, editing, cancelling and rescheduling interviews on the team's side.

        Account managers act for the teams they serve (SPEC section 1); what they do is
        recorded as theirs (requested by, cancelled by, edited by) and told in their name.
        """
        if self.user.role is Role.ACCOUNT_MANAGER:
            return organization_id in self.managed_organization_ids
        return self.can_act_for_organization(organization_id)

    def organization_filter(self, column: Any) -> ColumnElement[bool]:
        """A WHERE clause over an organization id column: the organizations one may browse."""
        match self.user.role:
            case Role.ADMIN:
                return true()
            case Role.HIRING_MEMBER:
                if self.user.organization_id is None:
                    return false()
                return column == self.user.organization_id  # type: ignore[no-any-return]
            case Role.ACCOUNT_MANAGER:
                if not self.managed_organization_ids:
                    return false()
                return column.in_(self.managed_organization_ids)  # type: ignore[no-any-return]
            case _:
                return false()

    def proposal_filter(self) -> ColumnElement[bool]:
        """A WHERE clause over Proposal joined with Project."""
        match self.user.role:
            case Role.ADMIN:
                return true()
            case Role.HIRING_MEMBER:
                if self.user.organization_id is None:
                    return false()
                return Project.organization_id == self.user.organization_id
            case Role.ACCOUNT_MANAGER:
                if not self.managed_organization_ids:
                    return false()
                return Project.organization_id.in_(self.managed_organization_ids)
            case _:
                return Proposal.candidate_id == self.user.id


async def load_viewer(session: AsyncSession, user: User) -> Viewer:
    if user.role is not Role.ACCOUNT_MANAGER:
        return Viewer(user)
    rows = await session.scalars(
        select(Project.organization_id).where(Project.account_manager_id == user.id).distinct()
    )
    return Viewer(user, frozenset(rows))
