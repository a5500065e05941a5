"""Browsing organizations and people: what each viewer may list, as SQL filters."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, false, or_, select

from app.access import Viewer
from app.models import Organization, Role, User
from app.pagination import Order

BY_NAME_ORG = Order(Organization.name, Organization.id, False, lambda row: row.name)
BY_NAME_USER = Order(User.name, User.id, False, lambda row: row.name)


def contains(column: Any, search: str | None) -> Any:
    """Case-insensitive substring match; LIKE wildcards in the search are taken literally."""
    term = (search or "").strip()
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


def organizations_query(*, viewer: Viewer, search: str | None) -> Select[Any]:
    query = select(Organization).where(viewer.organization_filter(Organization.id))
    if search and search.strip():
        query = query.where(contains(Organization.name, search))
    return query


def users_query(
    *,
    viewer: Viewer,
    search: str | None,
    role: Role | None,
    organization_id: uuid.UUID | None,
) -> Select[Any]:
    """Admins list everyone; others the people of the organizations they may browse."""
    query = select(User)
    if not viewer.is_admin:
        query = query.where(
            viewer.organization_filter(User.organization_id)
            if viewer.role is not Role.CANDIDATE
            else false()
        )
    if organization_id is not None:
        query = query.where(User.organization_id == organization_id)
    if role is not None:
        query = query.where(User.role == role)
    if search and search.strip():
        query = query.where(or_(contains(User.name, search), contains(User.email, search)))
    return query


def members_query(*, viewer: Viewer, organization_id: uuid.UUID, search: str | None) -> Select[Any]:
    """The hiring members of one organization: the colleague picker."""
    return users_query(
        viewer=viewer, search=search, role=Role.HIRING_MEMBER, organization_id=organization_id
    )
