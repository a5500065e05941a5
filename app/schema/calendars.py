"""Connecting, listing and disconnecting the signed-in user's calendars."""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app import models
from app.calendars import connections, disconnect, oauth, reconcile_schedule
from app.errors import ErrorCode, ServiceError
from app.schema.context import Info
from app.schema.errors import UserError, forbidden, user_errors
from app.schema.ids import try_parse_id
from app.schema.permissions import IsAuthenticated

# Registered on the model enums themselves, so the annotations below name them directly.
strawberry.enum(models.CalendarProvider, name="CalendarProvider")
strawberry.enum(
    models.ConnectionState,
    name="CalendarConnectionState",
    description="BROKEN: the provider refused our access; connect the calendar again. "
    "DISCONNECTING: Roundtable is removing its events before forgetting the connection.",
)
CalendarProvider = models.CalendarProvider


@strawberry.type
class CalendarConnection:
    id: strawberry.ID
    provider: CalendarProvider
    account_email: str
    calendar_id: str
    state: models.ConnectionState
    broken_reason: str | None
    connected_at: datetime
    last_reconciled_at: datetime | None = strawberry.field(
        description="When the reconcile sweep last compared this calendar with the bookings."
    )

    @classmethod
    def of(cls, model: models.CalendarConnection) -> CalendarConnection:
        return cls(
            id=strawberry.ID(str(model.id)),
            provider=model.provider,
            account_email=model.account_email,
            calendar_id=model.calendar_id,
            state=model.state,
            broken_reason=model.broken_reason,
            connected_at=model.updated_at,
            last_reconciled_at=model.reconciled_at,
        )


@strawberry.type
class ConnectCalendarPayload:
    authorization_url: str | None = strawberry.field(
        default=None,
        description=(
            "Open this in the user's browser, once, within 5 minutes: it leads to the "
            "provider's consent page, which returns to our callback."
        ),
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DisconnectCalendarPayload:
    disconnected: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ReconcileCalendarsPayload:
    queued: int = 0
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CalendarQuery:
    @strawberry.field(permission_classes=[IsAuthenticated])
    async def my_calendar_connections(self, info: Info) -> list[CalendarConnection]:
        return await own_connections(info)


async def own_connections(info: Info) -> list[CalendarConnection]:
    async with info.context.db() as session:
        rows = await connections.connections_of_users(
            session=session, user_ids=[info.context.require_viewer().id]
        )
    return [CalendarConnection.of(row) for row in rows]


@strawberry.type
class CalendarMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def connect_calendar(
        self, info: Info, provider: CalendarProvider
    ) -> ConnectCalendarPayload:
        ctx = info.context
        chosen = models.CalendarProvider(provider)
        if not connections.provider_configured(ctx.settings, chosen):
            return ConnectCalendarPayload(
                errors=[
                    UserError(
                        code=ErrorCode.VALIDATION,
                        message=f"{oauth.PROVIDER_NAMES[chosen]} is not available on this server",
                        field="provider",
                    )
                ]
            )
        viewer = ctx.require_viewer()
        # Our start link, not the provider's: opening it binds the flow to the browser.
        url = oauth.start_url(
            ctx.settings, user_id=viewer.id, provider=chosen, login_hint=viewer.user.email
        )
        return ConnectCalendarPayload(authorization_url=url)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def disconnect_calendar(
        self, info: Info, provider: CalendarProvider
    ) -> DisconnectCalendarPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> bool:
            # Roundtable's events leave the calendar first (a worker job), then the row.
            removed = await disconnect.start_disconnect(
                session=session,
                user_id=ctx.require_viewer().id,
                provider=models.CalendarProvider(provider),
                now=models.utcnow(),
            )
            if not removed:
                raise ServiceError.one(
                    ErrorCode.NOT_FOUND, "no calendar of this provider is connected", "provider"
                )
            return True

        done, errors = await ctx.unit_of_work(work)
        return DisconnectCalendarPayload(disconnected=bool(done), errors=user_errors(errors))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Admins: compare connected calendars with the bookings now (one "
        "connection, or every connected one) and repair what differs.",
    )
    async def reconcile_calendars(
        self, info: Info, connection_id: strawberry.ID | None = None
    ) -> ReconcileCalendarsPayload:
        ctx = info.context
        if not ctx.require_viewer().is_admin:
            return ReconcileCalendarsPayload(errors=forbidden())

        async def work(session: AsyncSession) -> int:
            parsed = try_parse_id(connection_id) if connection_id is not None else None
            if connection_id is not None and parsed is None:
                raise ServiceError.one(
                    ErrorCode.NOT_FOUND, "no connected calendar with this id", "connectionId"
                )
            return await reconcile_schedule.request_reconciles(
                session=session, connection_id=parsed, now=models.utcnow()
            )

        queued, errors = await ctx.unit_of_work(work)
        return ReconcileCalendarsPayload(queued=queued or 0, errors=user_errors(errors))
