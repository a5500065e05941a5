"""Admins' webhook endpoints: register (the secret is shown once), list, disable, delete,
read an endpoint's delivery log and replay a delivery."""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app import models
from app.errors import ErrorCode, ServiceError
from app.schema.connections import Connection, query_connection
from app.schema.context import Info
from app.schema.errors import UserError, forbidden, query_errors, user_errors
from app.schema.ids import try_parse_id
from app.schema.outbox import OutboxStatus
from app.schema.permissions import IsAuthenticated
from app.webhooks import endpoints as service
from app.webhooks.events import EventType


@strawberry.type
class WebhookEndpoint:
    model: strawberry.Private[models.WebhookEndpoint]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.model.id))

    @strawberry.field
    def url(self) -> str:
        return self.model.url

    @strawberry.field(description="The event types it receives; null: every type.")
    def events(self) -> list[str] | None:
        return None if self.model.events is None else [str(e) for e in self.model.events]

    @strawberry.field
    def description(self) -> str | None:
        return self.model.description

    @strawberry.field
    def enabled(self) -> bool:
        return self.model.enabled

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at


@strawberry.type(description="One event sent (or being sent) to one endpoint.")
class WebhookDelivery:
    model: strawberry.Private[models.OutboxMessage]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.model.id))

    @strawberry.field(description="The event's id: the same on every retry and replay.")
    def event_id(self) -> strawberry.ID:
        return strawberry.ID(str(self.model.payload.get("event_id")))

    @strawberry.field
    def event_type(self) -> str:
        return str(self.model.payload.get("type"))

    @strawberry.field
    def interview_id(self) -> strawberry.ID | None:
        value = self.model.payload.get("interview_id")
        return None if value is None else strawberry.ID(str(value))

    @strawberry.field(description="The JSON body sent, byte for byte.")
    def body(self) -> str:
        return str(self.model.payload.get("body"))

    @strawberry.field
    def status(self) -> OutboxStatus:
        return self.model.status

    @strawberry.field
    def attempts(self) -> int:
        return self.model.attempts

    @strawberry.field(description='The last answer: "HTTP 200", or why the attempt failed.')
    def last_response(self) -> str | None:
        return self.model.last_error

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field
    def processed_at(self) -> datetime | None:
        return self.model.processed_at


@strawberry.input
class CreateWebhookEndpointInput:
    url: str
    events: list[str] | None = strawberry.field(
        default=None,
        description=f"Event types ({', '.join(t.value for t in EventType)}); left out: all.",
    )
    description: str | None = None


@strawberry.input
class UpdateWebhookEndpointInput:
    id: strawberry.ID
    enabled: bool


@strawberry.type
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint | None = None
    secret: str | None = strawberry.field(
        default=None,
        description="The signing secret, in the answer to createWebhookEndpoint only.",
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _require_admin(info: Info) -> None:
    with query_errors():
        if not info.context.require_viewer().is_admin:
            raise ServiceError.one(ErrorCode.FORBIDDEN, "only admins can see webhooks")


@strawberry.type
class WebhookQuery:
    @strawberry.field(permission_classes=[IsAuthenticated], description="Admins, newest first.")
    async def webhook_endpoints(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> Connection[WebhookEndpoint]:
        _require_admin(info)
        return await query_connection(
            info,
            service.endpoints_query(),
            service.ENDPOINT_ORDER,
            first=first,
            after=after,
            node=lambda row: WebhookEndpoint(model=row),
        )

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Admins: an endpoint's deliveries, newest first.",
    )
    async def webhook_deliveries(
        self, info: Info, endpoint_id: strawberry.ID, first: int = 20, after: str | None = None
    ) -> Connection[WebhookDelivery]:
        _require_admin(info)
        parsed = try_parse_id(endpoint_id)
        with query_errors():
            async with info.context.db() as session:
                await service.get_endpoint(session=session, endpoint_id=parsed)
        assert parsed is not None
        return await query_connection(
            info,
            service.deliveries_query(parsed),
            service.DELIVERY_ORDER,
            first=first,
            after=after,
            node=lambda row: WebhookDelivery(model=row),
        )


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated], description="Admins.")
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        ctx = info.context
        viewer = ctx.require_viewer()
        if not viewer.is_admin:
            return WebhookEndpointPayload(errors=forbidden())

        async def work(session: AsyncSession) -> service.CreatedEndpoint:
            return await service.create_endpoint(
                session=session,
                settings=ctx.settings,
                by=viewer.user,
                url=input.url,
                events=input.events,
                description=input.description,
            )

        created, errors = await ctx.unit_of_work(work)
        if created is None:
            return WebhookEndpointPayload(errors=user_errors(errors))
        return WebhookEndpointPayload(
            endpoint=WebhookEndpoint(model=created.endpoint), secret=created.secret
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated], description="Admins: disable or enable again."
    )
    async def update_webhook_endpoint(
        self, info: Info, input: UpdateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        ctx = info.context
        if not ctx.require_viewer().is_admin:
            return WebhookEndpointPayload(errors=forbidden())

        async def work(session: AsyncSession) -> models.WebhookEndpoint:
            return await service.set_enabled(
                session=session, endpoint_id=try_parse_id(input.id), enabled=input.enabled
            )

        row, errors = await ctx.unit_of_work(work)
        return WebhookEndpointPayload(
            endpoint=WebhookEndpoint(model=row) if row is not None else None,
            errors=user_errors(errors),
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated], description="Admins.")
    async def delete_webhook_endpoint(
        self, info: Info, id: strawberry.ID
    ) -> WebhookEndpointPayload:
        ctx = info.context
        if not ctx.require_viewer().is_admin:
            return WebhookEndpointPayload(errors=forbidden())

        async def work(session: AsyncSession) -> models.WebhookEndpoint:
            return await service.delete_endpoint(session=session, endpoint_id=try_parse_id(id))

        row, errors = await ctx.unit_of_work(work)
        return WebhookEndpointPayload(
            endpoint=WebhookEndpoint(model=row) if row is not None else None,
            errors=user_errors(errors),
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Admins: send a delivery's event again (same event id and body).",
    )
    async def replay_webhook_delivery(
        self, info: Info, id: strawberry.ID
    ) -> WebhookDeliveryPayload:
        ctx = info.context
        if not ctx.require_viewer().is_admin:
            return WebhookDeliveryPayload(errors=forbidden())

        async def work(session: AsyncSession) -> models.OutboxMessage:
            return await service.replay_delivery(
                session=session, delivery_id=try_parse_id(id), now=models.utcnow()
            )

        row, errors = await ctx.unit_of_work(work)
        return WebhookDeliveryPayload(
            delivery=WebhookDelivery(model=row) if row is not None else None,
            errors=user_errors(errors),
        )
