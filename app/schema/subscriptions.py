"""Subscriptions over graphql-transport-ws: an interview's changes, a user's notifications.

The connection is authenticated once at connection_init (app.main); every event is then
checked again when it is delivered: the token must still be live, and the viewer it names
must still see the interview (or own the notification) as the queries would answer.
Nothing is sent for what the viewer may not see, not even that something changed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator

import strawberry
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession

from app import models
from app.access import Viewer, load_viewer
from app.errors import ServiceError
from app.live.changes import Change
from app.people.tokens import authenticate
from app.scheduling.access import interview_for
from app.schema.context import Context, Info
from app.schema.errors import UserInputError
from app.schema.ids import try_parse_id
from app.schema.permissions import IsAuthenticated
from app.schema.types import Interview, Notification


class SubscriptionEnded(GraphQLError):
    """The token stopped being valid while subscribed (revoked or expired)."""


async def _current_viewer(ctx: Context, session: AsyncSession) -> Viewer:
    token = ctx.bearer_token or ""
    auth = await authenticate(session=session, token=token, now=models.utcnow())
    if auth is None:
        raise SubscriptionEnded(
            "the token is no longer valid", extensions={"code": "UNAUTHENTICATED"}
        )
    return await load_viewer(session, auth.user)


async def _changes(info: Info) -> AsyncGenerator[Change, None]:
    feed = info.context.feed
    if feed is None:
        raise GraphQLError("live updates are not running", extensions={"code": "UNAVAILABLE"})
    async with feed.subscribe() as queue:
        while True:
            yield await queue.get()


def _over_websocket(info: Info) -> None:
    if info.context.request.scope["type"] != "websocket":
        raise UserInputError(
            "subscriptions are served over WebSocket only (graphql-transport-ws on /graphql)",
            extensions={"code": "BAD_REQUEST"},
        )


async def _interview_events(
    ctx: Context, changes: AsyncGenerator[Change, None], wanted: uuid.UUID | None
) -> AsyncGenerator[Interview, None]:
    async for change in changes:
        if change.kind != "interview" or (wanted is not None and change.id != wanted):
            continue
        async with ctx.db() as session:
            viewer = await _current_viewer(ctx, session)
            try:
                found = await interview_for(session, viewer, change.id)
            except ServiceError:
                found = None  # not (or no longer) visible to this viewer
        if found is not None:
            yield Interview.of(found.interview)
        await ctx.release()


async def _notification_events(
    ctx: Context, changes: AsyncGenerator[Change, None]
) -> AsyncGenerator[Notification, None]:
    async for change in changes:
        if change.kind != "notification" or change.user_id != ctx.require_viewer().id:
            continue
        async with ctx.db() as session:
            viewer = await _current_viewer(ctx, session)
            row = await session.get(models.Notification, change.id)
        if row is not None and row.user_id == viewer.id:
            yield Notification(model=row)
        await ctx.release()


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description="An interview's changes, or (no id) those of every interview you may see.",
    )
    async def interview_changed(
        self, info: Info, interview_id: strawberry.ID | None = None
    ) -> AsyncGenerator[Interview, None]:
        _over_websocket(info)
        wanted: uuid.UUID | None = None
        if interview_id is not None:
            wanted = try_parse_id(interview_id)
            if wanted is None:
                raise UserInputError(
                    "not an interview id", extensions={"code": "VALIDATION", "field": "interviewId"}
                )
        return _interview_events(info.context, _changes(info), wanted)

    @strawberry.subscription(
        permission_classes=[IsAuthenticated], description="Your new notifications."
    )
    async def notification_added(self, info: Info) -> AsyncGenerator[Notification, None]:
        _over_websocket(info)
        return _notification_events(info.context, _changes(info))
