"""Client organizations and what their screens list: projects and members."""

from __future__ import annotations

import uuid

import strawberry

from app import models
from app.pagination import count_rows, fetch_page
from app.people.listing import BY_NAME_USER, members_query
from app.scheduling.browsing import NEWEST_PROJECTS, projects_query
from app.schema.connections import Connection, connection, paging
from app.schema.context import Info
from app.schema.node import Node
from app.schema.types import Project, User


@strawberry.type
class Organization(Node):
    id: strawberry.ID  # type: ignore[assignment]  # a plain value for Node's id
    name: str

    @classmethod
    def of(cls, model: models.Organization) -> Organization:
        return cls(id=strawberry.ID(str(model.id)), name=model.name)

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
        size, cursor = paging(first, after)
        return await connection(
            info,
            fetch=lambda s: fetch_page(s, query, NEWEST_PROJECTS, first=size, after=cursor),
            count=lambda s: count_rows(s, query),
            cursor_of=NEWEST_PROJECTS.cursor,
            node=lambda row: Project(model=row),
            after=cursor,
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
        size, cursor = paging(first, after)
        return await connection(
            info,
            fetch=lambda s: fetch_page(s, query, BY_NAME_USER, first=size, after=cursor),
            count=lambda s: count_rows(s, query),
            cursor_of=BY_NAME_USER.cursor,
            node=User.of,
            after=cursor,
        )
