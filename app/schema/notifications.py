"""In-app notifications of the signed-in user."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.notifications import listing
from app.pagination import Cursor, page_size
from app.schema.context import Info
from app.schema.errors import UserError, query_errors, user_errors
from app.schema.ids import try_parse_id
from app.schema.permissions import IsAuthenticated
from app.schema.types import Edge, Notification, NotificationConnection, PageInfo


@strawberry.type
class MarkReadPayload:
    marked: int = 0
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class NotificationQuery:
    @strawberry.field(permission_classes=[IsAuthenticated])
    async def notifications(
        self,
        info: Info,
        unread_only: bool | None = False,
        first: int | None = 20,
        after: str | None = None,
    ) -> NotificationConnection:
        with query_errors():
            async with info.context.db() as session:
                rows, has_next = await listing.notifications_of(
                    session=session,
                    user_id=info.context.require_viewer().id,
                    unread_only=bool(unread_only),
                    first=page_size(20 if first is None else first),
                    after=Cursor.decode(after) if after else None,
                )
        edges = [
            Edge(node=Notification(model=row), cursor=Cursor(row.created_at, row.id).encode())
            for row in rows
        ]
        return NotificationConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None
            ),
        )


@strawberry.type
class NotificationMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def mark_notifications_read(
        self, info: Info, ids: list[strawberry.ID]
    ) -> MarkReadPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> int:
            return await listing.mark_read(
                session=session,
                user_id=ctx.require_viewer().id,
                ids=[try_parse_id(i) for i in ids],
                now=ctx.clock(),
            )

        marked, errors = await ctx.unit_of_work(work)
        return MarkReadPayload(marked=marked or 0, errors=user_errors(errors))
