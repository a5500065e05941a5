"""Admin services: create organizations, users, projects and proposals."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ErrorCode, FieldError, ServiceError, not_found, validation
from app.models import Organization, Project, Proposal, Role, User
from app.text import preview, required_text, text_problem
from app.timezones import zone


def normalise_email(value: str, field: str = "email") -> str:
    """The canonical lower-cased address, or a VALIDATION error naming the field."""
    problem = text_problem(value, field=field, max_chars=320)  # RFC 5321's longest path
    if problem is not None:
        raise ServiceError([problem])
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        message = f"{preview(value)} is not a valid email address: {exc}"
        raise ServiceError([validation(message, field)]) from None
    return result.normalized.lower()


async def create_organization(*, session: AsyncSession, name: str) -> Organization:
    organization = Organization(name=required_text(name, field="name"))
    session.add(organization)
    await session.flush()
    return organization


async def find_user_by_email(*, session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(func.lower(User.email) == email.lower()))


async def create_user(
    *,
    session: AsyncSession,
    email: str,
    name: str,
    role: Role,
    time_zone: str,
    organization_id: uuid.UUID | None,
) -> User:
    errors: list[FieldError] = []
    address = ""
    try:
        address = normalise_email(email)
    except ServiceError as exc:
        errors.extend(exc.errors)
    if zone(time_zone) is None:
        errors.append(validation(f"{preview(time_zone)} is not an IANA time zone", "timeZone"))
    try:
        name = required_text(name, field="name")
    except ServiceError as exc:
        errors.extend(exc.errors)
    if role is Role.HIRING_MEMBER and organization_id is None:
        errors.append(validation("a hiring member belongs to an organization", "organizationId"))
    if role is not Role.HIRING_MEMBER and organization_id is not None:
        errors.append(validation("only hiring members belong to an organization", "organizationId"))
    if organization_id is not None and await session.get(Organization, organization_id) is None:
        errors.append(FieldError(ErrorCode.NOT_FOUND, "organization not found", "organizationId"))
    if address and await find_user_by_email(session=session, email=address) is not None:
        errors.append(validation(f"a user with email {address} already exists", "email"))
    if errors:
        raise ServiceError(errors)
    user = User(
        email=address,
        name=name,
        role=role,
        time_zone=time_zone,
        organization_id=organization_id,
    )
    session.add(user)
    await session.flush()
    return user


async def create_project(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    title: str,
    account_manager_id: uuid.UUID,
) -> Project:
    errors: list[FieldError] = []
    try:
        title = required_text(title, field="title")
    except ServiceError as exc:
        errors.extend(exc.errors)
    if await session.get(Organization, organization_id) is None:
        errors.append(FieldError(ErrorCode.NOT_FOUND, "organization not found", "organizationId"))
    manager = await session.get(User, account_manager_id)
    if manager is None:
        errors.append(FieldError(ErrorCode.NOT_FOUND, "user not found", "accountManagerId"))
    elif manager.role is not Role.ACCOUNT_MANAGER:
        errors.append(validation("this user is not an account manager", "accountManagerId"))
    if errors:
        raise ServiceError(errors)
    project = Project(
        organization_id=organization_id,
        title=title,
        account_manager_id=account_manager_id,
    )
    session.add(project)
    await session.flush()
    return project


async def create_proposal(
    *, session: AsyncSession, project_id: uuid.UUID, candidate_id: uuid.UUID
) -> Proposal:
    errors: list[FieldError] = []
    if await session.get(Project, project_id) is None:
        errors.append(FieldError(ErrorCode.NOT_FOUND, "project not found", "projectId"))
    candidate = await session.get(User, candidate_id)
    if candidate is None:
        errors.append(FieldError(ErrorCode.NOT_FOUND, "user not found", "candidateId"))
    elif candidate.role is not Role.CANDIDATE:
        errors.append(validation("this user is not a candidate", "candidateId"))
    if errors:
        raise ServiceError(errors)
    existing = await session.scalar(
        select(Proposal.id).where(
            Proposal.project_id == project_id, Proposal.candidate_id == candidate_id
        )
    )
    if existing is not None:
        raise ServiceError(
            [validation("this candidate already applied to this project", "candidateId")]
        )
    proposal = Proposal(project_id=project_id, candidate_id=candidate_id)
    session.add(proposal)
    await session.flush()
    return proposal


async def get_user(*, session: AsyncSession, user_id: uuid.UUID, field: str = "userId") -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise not_found("user", field)
    return user


async def update_user(
    *,
    session: AsyncSession,
    user_id: uuid.UUID,
    changes: UserChanges,
) -> User:
    """Change what is given; the result must satisfy the same rules as a new user."""
    user = await get_user(session=session, user_id=user_id, field="id")
    errors: list[FieldError] = []
    if changes.email is not None:
        try:
            address = normalise_email(changes.email)
        except ServiceError as exc:
            errors.extend(exc.errors)
        else:
            other = await find_user_by_email(session=session, email=address)
            if other is not None and other.id != user.id:
                errors.append(validation(f"a user with email {address} already exists", "email"))
            user.email = address
    if changes.name is not None:
        try:
            user.name = required_text(changes.name, field="name")
        except ServiceError as exc:
            errors.extend(exc.errors)
    if changes.time_zone is not None:
        if zone(changes.time_zone) is None:
            errors.append(validation(f"{changes.time_zone!r} is not an IANA time zone", "timeZone"))
        user.time_zone = changes.time_zone
    if changes.role is not None and changes.role is not user.role:
        errors += await _role_change_problems(session, user)
        user.role = changes.role
    if changes.organization_given:
        org_id = changes.organization_id
        if org_id is not None and await session.get(Organization, org_id) is None:
            errors.append(
                FieldError(ErrorCode.NOT_FOUND, "organization not found", "organizationId")
            )
        user.organization_id = org_id
    if user.role is Role.HIRING_MEMBER and user.organization_id is None:
        errors.append(validation("a hiring member belongs to an organization", "organizationId"))
    if user.role is not Role.HIRING_MEMBER and user.organization_id is not None:
        errors.append(validation("only hiring members belong to an organization", "organizationId"))
    if errors:
        raise ServiceError(errors)  # the unit of work rolls the changes back
    await session.flush()
    return user


@dataclass(frozen=True)
class UserChanges:
    """None: leave as is. The organization can be cleared, hence its own flag."""

    email: str | None = None
    name: str | None = None
    role: Role | None = None
    time_zone: str | None = None
    organization_given: bool = False
    organization_id: uuid.UUID | None = None


async def _role_change_problems(session: AsyncSession, user: User) -> list[FieldError]:
    """A role that others depend on cannot be taken away while they do."""
    if user.role is Role.ACCOUNT_MANAGER:
        managed = await session.scalar(
            select(func.count()).select_from(Project).where(Project.account_manager_id == user.id)
        )
        if managed:
            return [
                validation(
                    "this user manages projects: assign them to another account manager first",
                    "role",
                )
            ]
    if user.role is Role.CANDIDATE:
        applied = await session.scalar(
            select(func.count()).select_from(Proposal).where(Proposal.candidate_id == user.id)
        )
        if applied:
            return [validation("this candidate has proposals: their role stays", "role")]
    return []


async def update_me(
    *, session: AsyncSession, user_id: uuid.UUID, name: str | None, time_zone: str | None
) -> User:
    """A user's own name and time zone; a field left out stays as it is."""
    errors: list[FieldError] = []
    clean_name: str | None = None
    if name is not None:
        try:
            clean_name = required_text(name, field="name")
        except ServiceError as exc:
            errors.extend(exc.errors)
    if time_zone is not None and zone(time_zone) is None:
        errors.append(validation(f"{preview(time_zone)} is not an IANA time zone", "timeZone"))
    if errors:
        raise ServiceError(errors)
    user = await get_user(session=session, user_id=user_id)
    if clean_name is not None:
        user.name = clean_name
    if time_zone is not None:
        user.time_zone = time_zone
    await session.flush()
    return user
