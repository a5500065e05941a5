"""Outgoing webhooks: the endpoints admins register. Each delivery is an outbox row."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAtMixin, IdMixin


class WebhookEndpoint(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(2000))
    # The event types it receives; None means every type, including types added later.
    events: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    # The signing secret, encrypted with a key derived from the secret key (shown once).
    secret_ciphertext: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)

    def wants(self, event_type: str) -> bool:
        return self.enabled and (self.events is None or event_type in self.events)
