"""In-app notifications and the transactional outbox of work for the background workers."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, CreatedAtMixin, IdMixin, utcnow


class Notification(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "notifications"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    interview_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("interviews.id"), default=None, index=True
    )
    kind: Mapped[str] = mapped_column(String(60))
    # The text as written for the reader when the notification was made; shown only when
    # `facts` is missing (rows from before facts were kept).
    message: Mapped[str] = mapped_column(Text)
    # Who acted and what changed (app.notifications.events): the text is rendered from
    # these and the interview's current state when it is read, in the reader's zone.
    facts: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    read_at: Mapped[datetime | None] = mapped_column(default=None)
    email_outbox_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("outbox_messages.id"), default=None
    )
    # Declared so the unit of work inserts the outbox row before the notification.
    email_outbox: Mapped[OutboxMessage | None] = relationship(lazy="raise")


class OutboxStatus(enum.StrEnum):
    PENDING = "PENDING"
    DONE = "DONE"
    FAILED = "FAILED"


class OutboxMessage(IdMixin, CreatedAtMixin, Base):
    """Work promised in the same transaction as the change that caused it.

    The relay publishes PENDING rows to the broker after commit and sweeps for missed ones;
    actors mark rows DONE, so a second delivery of the same message does nothing.
    """

    __tablename__ = "outbox_messages"
    # The rows still to publish or deliver, in order: the relay's and the sweep's read. The
    # table keeps every row ever written, and each status change leaves a dead version in
    # the plain status index until vacuum: read through it, an empty pass took 3 ms.
    __table_args__ = (
        Index(
            "ix_outbox_messages_pending",
            "created_at",
            postgresql_where=text("status = 'PENDING'"),
            sqlite_where=text("status = 'PENDING'"),
        ),
    )

    topic: Mapped[str] = mapped_column(String(60), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[OutboxStatus] = mapped_column(
        Enum(OutboxStatus, native_enum=False, length=10), default=OutboxStatus.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
