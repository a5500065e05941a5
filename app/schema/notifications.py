"""In-app notifications of the signed-in user."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ServiceError, validation
from app.notifications import listing
from app.notifications.inapp import in_app_texts
from app.notifications.kinds import MessageKind
from app.pagination import Cursor
from app.schema.connections import connection, paging
from app.schema.context import Info
from app.schema.errors import UserError, query_errors, user_errors
from app.schema.ids import try_parse_id
from app.schema.permissions import IsAuthenticated
from app.schema.types import Notification, NotificationConnection


@strawberry.type
class MarkReadPayload:
    marked: int = 0
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class NotificationQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Yours, newest first; `kinds` keeps only those kinds (Notification.kind).",
    )
    async def notifications(
        self,
        info: Info,
        unread_only: bool | None = False,
        first: int | None = 20,
        after: str | None = None,
        kinds: list[str] | None = None,
    ) -> NotificationConnection:
        viewer = info.context.require_viewer()
        user_id = viewer.id
        settings = info.context.settings
        wanted = _kinds(kinds)
        size, cursor = paging(first, after)

        async def fetch(session: AsyncSession) -> tuple[list[Notification], bool]:
            rows, has_next = await listing.notifications_of(
                session=session,
                user_id=user_id,
                unread_only=bool(unread_only),
                kinds=wanted,
                first=size,
                after=cursor,
            )
            # Written now, for the reader as they are now, in one batch for the page.
            texts = await in_app_texts(session, rows, viewer=viewer, settings=settings)
            return [Notification(model=row, text=texts.get(row.id)) for row in rows], has_next

        return await connection(
            info,
            fetch=fetch,
            count=lambda session: listing.count_notifications(
                session=session, user_id=user_id, unread_only=bool(unread_only), kinds=wanted
            ),
            cursor_of=lambda node: Cursor(node.model.created_at, node.model.id),
            node=lambda node: node,
            after=cursor,
        )

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="How many of your notifications are unread (of these kinds, if given).",
    )
    async def unread_notification_count(self, info: Info, kinds: list[str] | None = None) -> int:
        user_id = info.context.require_viewer().id
        wanted = _kinds(kinds)
        async with info.context.db() as session:
            return await listing.count_notifications(
                session=session, user_id=user_id, unread_only=True, kinds=wanted
            )


def _kinds(kinds: list[str] | None) -> list[str] | None:
    if kinds is None:
        return None
    known = {kind.value for kind in MessageKind}
    with query_errors():
        errors = [
            validation(f"{kind!r} is not a notification kind", f"kinds.{index}")
            for index, kind in enumerate(kinds)
            if kind not in known
        ]
        if errors:
            raise ServiceError(errors)
    return kinds


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
