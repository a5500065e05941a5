"""node(id:) and nodes(ids:): any object by id, with the same access rules as everywhere.

What the viewer may not see reads as null, exactly like an id that does not exist.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import strawberry
from sqlalchemy import literal, select, union_all
from strawberry.dataloader import DataLoader

from app import models
from app.access import Viewer
from app.errors import ServiceError, validation
from app.pagination import MAX_PAGE
from app.schema.context import Info
from app.schema.errors import query_errors
from app.schema.ids import try_parse_id
from app.schema.node import Node
from app.schema.organizations import Organization
from app.schema.permissions import IsAuthenticated
from app.schema.types import Interview, Notification, Project, Proposal, User

KINDS: dict[str, Any] = {
    "Organization": models.Organization,
    "User": models.User,
    "Project": models.Project,
    "Proposal": models.Proposal,
    "Interview": models.Interview,
    "Notification": models.Notification,
}


async def _kinds_of(info: Info, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Which table each id is in: one statement for any number of ids."""
    if not ids:
        return {}
    query = union_all(
        *[
            select(literal(kind).label("kind"), model.id.label("id")).where(model.id.in_(ids))
            for kind, model in KINDS.items()
        ]
    )
    async with info.context.db() as session:
        rows = (await session.execute(query)).all()
    return {row.id: row.kind for row in rows}


async def _resolve(info: Info, kind: str | None, node_id: uuid.UUID) -> Node | None:
    viewer = info.context.require_viewer()
    loaders = info.context.loaders
    match kind:
        case "Organization":
            org = await loaders.organization_by_id.load(node_id)
            return Organization.of(org) if org and viewer.sees_organization(org.id) else None
        case "User":
            user = await loaders.user_by_id.load(node_id)
            return User.of(user) if user and _sees_user(viewer, user) else None
        case "Project":
            project = await loaders.project_by_id.load(node_id)
            if project is None or not viewer.sees_organization(project.organization_id):
                return None
            return Project.of(project)
        case "Proposal":
            proposal = await loaders.proposal_by_id.load(node_id)
            if proposal is None or not await _sees(info, proposal):
                return None
            return Proposal.of(proposal)
        case "Interview":
            interview = await loaders.interview_by_id.load(node_id)
            if interview is None:
                return None
            proposal = await loaders.proposal_by_id.load(interview.proposal_id)
            return Interview.of(interview) if await _sees(info, proposal) else None
        case "Notification":
            row = await _own_notifications(info).load(node_id)
            return Notification(model=row) if row is not None else None
    return None


def _own_notifications(info: Info) -> DataLoader[uuid.UUID, models.Notification | None]:
    """The viewer's notifications by id, batched; built once per request, kept on the request."""
    state = info.context.request.state
    loader: DataLoader[uuid.UUID, models.Notification | None] | None = getattr(
        state, "own_notifications", None
    )
    if loader is None:
        user_id = info.context.require_viewer().id

        async def load(ids: list[uuid.UUID]) -> list[models.Notification | None]:
            async with info.context.db() as session:
                rows = await session.scalars(
                    select(models.Notification).where(
                        models.Notification.id.in_(ids), models.Notification.user_id == user_id
                    )
                )
            found = {row.id: row for row in rows}
            return [found.get(i) for i in ids]

        loader = DataLoader(load_fn=load)
        state.own_notifications = loader
    return loader


def _sees_user(viewer: Viewer, user: models.User) -> bool:
    if viewer.is_admin or viewer.id == user.id:
        return True
    return user.organization_id is not None and viewer.sees_organization(user.organization_id)


async def _sees(info: Info, proposal: models.Proposal | None) -> bool:
    if proposal is None:
        return False
    project = await info.context.loaders.project_by_id.load(proposal.project_id)
    return project is not None and info.context.require_viewer().can_view_proposal(
        proposal, project
    )


@strawberry.type
class NodeQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Any object you may see, by id; null for an id unknown or not yours.",
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        node_id = try_parse_id(id)
        if node_id is None:
            return None
        kinds = await _kinds_of(info, {node_id})
        return await _resolve(info, kinds.get(node_id), node_id)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description=f"Up to {MAX_PAGE} objects by id, in the order asked; null where node is.",
    )
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_PAGE:
            with query_errors():
                raise ServiceError([validation(f"at most {MAX_PAGE} ids at once", "ids")])
        parsed: Sequence[uuid.UUID | None] = [try_parse_id(i) for i in ids]
        kinds = await _kinds_of(info, {i for i in parsed if i is not None})
        # Resolved together, so the DataLoaders batch them: a fixed number of statements.
        return list(
            await asyncio.gather(*[_resolve_maybe(info, kinds, node_id) for node_id in parsed])
        )


async def _resolve_maybe(
    info: Info, kinds: dict[uuid.UUID, str], node_id: uuid.UUID | None
) -> Node | None:
    return None if node_id is None else await _resolve(info, kinds.get(node_id), node_id)
