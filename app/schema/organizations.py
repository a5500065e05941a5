"""Client organizations and what their screens list: projects and members."""

from __future__ import annotations

import uuid

import strawberry

from app import models
from app.people.listing import BY_NAME_USER, members_query
from app.scheduling.browsing import NEWEST_PROJECTS, projects_query
from app.schema.connections import Connection, query_connection
from app.schema.context import Info
from app.schema.node import Node
from app.schema.types import Project, User


@strawberry.type
class Organization(Node):
    id: strawberry.ID  # type: ignore[assignment]  # a plain value for Node's id
    name: str
    max_interviews_per_day: int | None = strawberry.field(
        default=None, description="Members' default load limit a day (null: none)."
    )
    max_interviews_per_week: int | None = strawberry.field(
        default=None, description="Members' default load limit a week (null: none)."
    )

    @classmethod
    def of(cls, model: models.Organization) -> Organization:
        return cls(
            id=strawberry.ID(str(model.id)),
            name=model.name,
            max_interviews_per_day=model.max_interviews_per_day,
            max_interviews_per_week=model.max_interviews_per_week,
        )

    @strawberry.field(description="Newest first; empty unless you may browse the organization.")
    async def projects(
        self,
        info: Info,
        search: str | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[Project]:
        query = projects_query(
            viewer=info.context.require_viewer(),
            organization_id=uuid.UUID(self.id),
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
        description="Hiring members by name (the colleague picker); search: name or email."
    )
    async def members(
        self,
        info: Info,
        search: str | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[User]:
        query = members_query(
            viewer=info.context.require_viewer(),
            organization_id=uuid.UUID(self.id),
            search=search,
        )
        return await query_connection(
            info, query, BY_NAME_USER, first=first, after=after, node=User.of
        )
