"""Connected Google and Microsoft calendars, and what was written to them."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAtMixin, IdMixin, utcnow


class CalendarProvider(enum.StrEnum):
    GOOGLE = "GOOGLE"
    MICROSOFT = "MICROSOFT"


class ConnectionState(enum.StrEnum):
    CONNECTED = "CONNECTED"
    # The provider refused our tokens for good (revoked, invalid_grant): the user must
    # connect again. Nothing is written to or read from a broken connection.
    BROKEN = "BROKEN"
    # The user disconnected: a worker removes Roundtable's events, then forgets the row.
    DISCONNECTING = "DISCONNECTING"


class CalendarEventState(enum.StrEnum):
    PENDING = "PENDING"  # to be written (created or updated) by the worker
    SYNCED = "SYNCED"
    FAILED = "FAILED"  # gave up; last_error says why
    DELETED = "DELETED"  # removed from the provider (cancelled or moved)


class CalendarConnection(IdMixin, CreatedAtMixin, Base):
    """A user's Google or Microsoft account and the calendar Roundtable writes to."""

    __tablename__ = "calendar_connections"
    # One account per provider and user: connecting again replaces the tokens.
    __table_args__ = (UniqueConstraint("user_id", "provider"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[CalendarProvider] = mapped_column(
        Enum(CalendarProvider, native_enum=False, length=20)
    )
    account_email: Mapped[str] = mapped_column(String(320))
    calendar_id: Mapped[str] = mapped_column(String(1024))
    # Fernet ciphertext of the OAuth token set (app.calendars.tokens): never the tokens.
    token_ciphertext: Mapped[str] = mapped_column(Text)
    state: Mapped[ConnectionState] = mapped_column(
        Enum(ConnectionState, native_enum=False, length=20), default=ConnectionState.CONNECTED
    )
    broken_reason: Mapped[str | None] = mapped_column(Text, default=None)
    broken_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Incremental sync position: Google's nextSyncToken or Graph's deltaLink (None: full).
    sync_token: Mapped[str | None] = mapped_column(Text, default=None)
    # Last reconcile asked for (claimed by one sweep) and last one finished.
    reconcile_requested_at: Mapped[datetime | None] = mapped_column(default=None)
    reconciled_at: Mapped[datetime | None] = mapped_column(default=None)


class CalendarEvent(IdMixin, CreatedAtMixin, Base):
    """One interview written to one participant's connected calendar."""

    __tablename__ = "calendar_events"
    __table_args__ = (UniqueConstraint("interview_id", "participant_id"),)

    interview_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    # Kept when the user disconnects, so the record of what was written survives.
    connection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("calendar_connections.id", ondelete="SET NULL"), index=True
    )
    provider: Mapped[CalendarProvider] = mapped_column(
        Enum(CalendarProvider, native_enum=False, length=20)
    )
    # Null until the provider has confirmed the event.
    provider_event_id: Mapped[str | None] = mapped_column(String(1024), default=None)
    ical_uid: Mapped[str] = mapped_column(String(255))
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[CalendarEventState] = mapped_column(
        Enum(CalendarEventState, native_enum=False, length=20),
        default=CalendarEventState.PENDING,
        index=True,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    synced_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ConsumedOAuthNonce(Base):
    """A connection link or OAuth `state` already used: each works once (until it expires)."""

    __tablename__ = "oauth_consumed_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
