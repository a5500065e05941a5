"""Setting a member's working hours and load limits, and an organization's default limits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.access import Viewer
from app.errors import ErrorCode, FieldError, ServiceError, not_found, validation
from app.models import Organization, Role, User
from app.scheduling.hours import parse_hours, stored

MAX_LIMIT = 100


@dataclass(frozen=True)
class LoadLimits:
    per_day: int | None
    per_week: int | None


def check_limits(limits: LoadLimits) -> None:
    errors: list[FieldError] = []
    for value, field in (
        (limits.per_day, "maxInterviewsPerDay"),
        (limits.per_week, "maxInterviewsPerWeek"),
    ):
        if value is not None and not 1 <= value <= MAX_LIMIT:
            errors.append(validation(f"give a number from 1 to {MAX_LIMIT}, or none", field))
    if errors:
        raise ServiceError(errors)


def may_set_for(viewer: Viewer, member: User) -> bool:
    """A member sets their own; account managers and admins set those of the teams they serve."""
    if viewer.id == member.id:
        return True
    if viewer.role not in (Role.ACCOUNT_MANAGER, Role.ADMIN) or member.organization_id is None:
        return False
    return viewer.can_schedule_for_organization(member.organization_id)


async def update_member_preferences(
    *,
    session: AsyncSession,
    viewer: Viewer,
    user_id: uuid.UUID,
    limits: LoadLimits,
    working_hours: Sequence[tuple[int, str, str]] | None,
) -> User:
    """The full set: limits left out (null) fall back to the organization's; hours left out
    are the default week (09:00-17:00 Monday to Friday in the member's zone)."""
    member = await session.get(User, user_id, with_for_update=True)
    if member is None or not (
        viewer.id == member.id
        or (member.organization_id is not None and viewer.sees_organization(member.organization_id))
    ):
        raise not_found("user", "userId")
    if member.role is not Role.HIRING_MEMBER:
        raise ServiceError.one(
            ErrorCode.INVALID_STATE, "only hiring members have working hours and limits", "userId"
        )
    if not may_set_for(viewer, member):
        raise ServiceError.one(
            ErrorCode.FORBIDDEN,
            "members set their own; account managers set those of the teams they serve",
            "userId",
        )
    check_limits(limits)
    hours = None if working_hours is None else parse_hours(working_hours, "workingHours")
    member.max_interviews_per_day, member.max_interviews_per_week = limits.per_day, limits.per_week
    member.working_hours = None if hours is None else stored(hours)
    await session.flush()
    return member


async def update_organization_limits(
    *, session: AsyncSession, viewer: Viewer, organization_id: uuid.UUID, limits: LoadLimits
) -> Organization:
    """The default limits of the organization's members: its members, account managers and
    admins set them."""
    organization = await session.get(Organization, organization_id, with_for_update=True)
    if organization is None or not viewer.sees_organization(organization_id):
        raise not_found("organization", "organizationId")
    if not viewer.can_schedule_for_organization(organization_id):
        raise ServiceError.one(
            ErrorCode.FORBIDDEN, "only the organization's team can do this", "organizationId"
        )
    check_limits(limits)
    organization.max_interviews_per_day = limits.per_day
    organization.max_interviews_per_week = limits.per_week
    await session.flush()
    return organization
