"""Admins' view of background work: deliveries that failed, and retrying one."""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app import models
from app.errors import ErrorCode, ServiceError
from app.models import OutboxStatus as DomainOutboxStatus
from app.outbox import admin
from app.pagination import Cursor
from app.schema.connections import Connection, connection, paging
from app.schema.context import Info
from app.schema.errors import UserError, forbidden, query_errors, user_errors
from app.schema.ids import try_parse_id
from app.schema.permissions import IsAuthenticated

strawberry.enum(DomainOutboxStatus)  # registered in place, like the other domain enums
OutboxStatus = DomainOutboxStatus


@strawberry.type
class OutboxMessage:
    model: strawberry.Private[models.OutboxMessage]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.model.id))

    @strawberry.field(description='What the row asks for: "mail", or a calendar topic.')
    def topic(self) -> str:
        return self.model.topic

    @strawberry.field
    def status(self) -> OutboxStatus:
        return self.model.status

    @strawberry.field(description="The kind of message, for mail rows.")
    def kind(self) -> str | None:
        value = self.model.payload.get("kind")
        return None if value is None else str(value)

    @strawberry.field(description="The address a mail row is for.")
    def recipient(self) -> str | None:
        value = self.model.payload.get("to")
        return None if value is None else str(value)

    @strawberry.field
    def interview_id(self) -> strawberry.ID | None:
        value = self.model.payload.get("interview_id")
        return None if value is None else strawberry.ID(str(value))

    @strawberry.field
    def attempts(self) -> int:
        return self.model.attempts

    @strawberry.field(description="Why the last attempt failed.")
    def last_error(self) -> str | None:
        return self.model.last_error

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field
    def processed_at(self) -> datetime | None:
        return self.model.processed_at


OutboxMessageConnection = Connection[OutboxMessage]


@strawberry.type
class OutboxMessagePayload:
    message: OutboxMessage | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OutboxQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Admins: outbox rows that failed for good (newest first).",
    )
    async def outbox_failures(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> OutboxMessageConnection:
        with query_errors():
            if not info.context.require_viewer().is_admin:
                raise ServiceError.one(ErrorCode.FORBIDDEN, "only admins can see the outbox")
        size, cursor = paging(first, after)
        return await connection(
            info,
            fetch=lambda session: admin.failed_messages(session=session, first=size, after=cursor),
            count=lambda session: admin.count_failed_messages(session=session),
            cursor_of=lambda row: Cursor(row.created_at, row.id),
            node=lambda row: OutboxMessage(model=row),
            after=cursor,
        )


@strawberry.type
class OutboxMutation:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Admins: deliver a failed outbox row again, with a fresh set of attempts.",
    )
    async def retry_outbox_message(self, info: Info, id: strawberry.ID) -> OutboxMessagePayload:
        ctx = info.context
        if not ctx.require_viewer().is_admin:
            return OutboxMessagePayload(errors=forbidden())

        async def work(session: AsyncSession) -> models.OutboxMessage:
            return await admin.retry_message(
                # Outbox timing is the workers' real time, not the domain's clock.
                session=session,
                message_id=try_parse_id(id),
                now=models.utcnow(),
            )

        row, errors = await ctx.unit_of_work(work)
        return OutboxMessagePayload(
            message=OutboxMessage(model=row) if row is not None else None,
            errors=user_errors(errors),
        )
