"""Admins' services for webhook endpoints: register, list, disable, delete; the delivery log
(the endpoint's outbox rows) and replaying a delivery. Callers check that the viewer is an
admin; services never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import ErrorCode, FieldError, ServiceError, not_found, validation
from app.models import OutboxMessage, OutboxStatus, User, WebhookEndpoint
from app.outbox import admin as outbox_admin
from app.outbox.enqueue import enqueue
from app.outbox.topics import WEBHOOK_TOPIC
from app.pagination import Order
from app.text import optional_text
from app.webhooks.events import EVENT_TYPES
from app.webhooks.signing import SecretCipher, new_secret
from app.webhooks.targets import TargetRefused, check_target, check_url_shape


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown once, in the answer to the creation


async def create_endpoint(
    *,
    session: AsyncSession,
    settings: Settings,
    by: User,
    url: str,
    events: Sequence[str] | None,
    description: str | None = None,
) -> CreatedEndpoint:
    problems: list[FieldError] = []
    try:
        url = check_url_shape(url)
        await check_target(url, allow_private=settings.webhook_allow_private)
    except TargetRefused as exc:
        problems.append(validation(str(exc), "url"))
    chosen: list[str] | None = None
    if events is not None:
        for index, name in enumerate(events):
            if name not in EVENT_TYPES:
                known = ", ".join(sorted(EVENT_TYPES))
                problems.append(
                    validation(f"unknown event type; use one of {known}", f"events.{index}")
                )
        if not events:
            problems.append(
                validation("name at least one event type, or leave events out", "events")
            )
        chosen = sorted(set(events))
    if problems:
        raise ServiceError(problems)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        url=url,
        events=chosen,
        description=optional_text(description, field="description"),
        secret_ciphertext=SecretCipher(settings.secret_key).encrypt(secret),
        enabled=True,
        created_by_id=by.id,
    )
    session.add(endpoint)
    await session.flush()
    return CreatedEndpoint(endpoint, secret)


async def get_endpoint(*, session: AsyncSession, endpoint_id: uuid.UUID | None) -> WebhookEndpoint:
    endpoint = await session.get(WebhookEndpoint, endpoint_id) if endpoint_id else None
    if endpoint is None:
        raise not_found("webhook endpoint", "id")
    return endpoint


async def set_enabled(
    *, session: AsyncSession, endpoint_id: uuid.UUID | None, enabled: bool
) -> WebhookEndpoint:
    """A disabled endpoint gets no new events; its queued deliveries fail when they come up."""
    endpoint = await get_endpoint(session=session, endpoint_id=endpoint_id)
    endpoint.enabled = enabled
    await session.flush()
    return endpoint


async def delete_endpoint(
    *, session: AsyncSession, endpoint_id: uuid.UUID | None
) -> WebhookEndpoint:
    """Gone with its secret; its delivery rows stay in the outbox log until cleaned up."""
    endpoint = await get_endpoint(session=session, endpoint_id=endpoint_id)
    await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id))
    return endpoint


ENDPOINT_ORDER = Order(WebhookEndpoint.created_at, WebhookEndpoint.id, True, lambda e: e.created_at)
DELIVERY_ORDER = Order(OutboxMessage.created_at, OutboxMessage.id, True, lambda r: r.created_at)


def endpoints_query() -> Select[WebhookEndpoint]:
    return select(WebhookEndpoint)


def deliveries_query(endpoint_id: uuid.UUID) -> Select[OutboxMessage]:
    """The endpoint's delivery log: its outbox rows (attempts, last answer, outcome)."""
    return select(OutboxMessage).where(
        OutboxMessage.topic == WEBHOOK_TOPIC,
        OutboxMessage.payload["endpoint_id"].as_string() == str(endpoint_id),
    )


async def replay_delivery(
    *, session: AsyncSession, delivery_id: uuid.UUID | None, now: datetime
) -> OutboxMessage:
    """Send an event to its endpoint again, with the same event id and body.

    A FAILED delivery is retried in place with fresh attempts; a delivered one gets a new
    delivery row (receivers deduplicate by the event id). A pending one is on its way.
    """
    row = await session.get(OutboxMessage, delivery_id) if delivery_id else None
    if row is None or row.topic != WEBHOOK_TOPIC:
        raise not_found("webhook delivery", "id")
    if row.status is OutboxStatus.FAILED:
        return await outbox_admin.retry_message(session=session, message_id=row.id, now=now)
    if row.status is OutboxStatus.PENDING:
        raise ServiceError.one(
            ErrorCode.INVALID_STATE, "this delivery is still being attempted", "id"
        )
    payload = {k: v for k, v in row.payload.items() if k != "request_id"}
    replay = enqueue(session, topic=WEBHOOK_TOPIC, payload={**payload, "replay_of": str(row.id)})
    await session.flush()
    return replay
