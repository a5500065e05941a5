"""Organizations, users and their API tokens."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAtMixin, IdMixin


class Role(enum.StrEnum):
    HIRING_MEMBER = "HIRING_MEMBER"
    CANDIDATE = "CANDIDATE"
    ACCOUNT_MANAGER = "ACCOUNT_MANAGER"
    ADMIN = "ADMIN"


class Organization(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(200))
    # Interviewer load limits every member of the organization has unless they set their
    # own (None: no limit). Counted in each member's own zone (app.scheduling.load).
    max_interviews_per_day: Mapped[int | None] = mapped_column(Integer, default=None)
    max_interviews_per_week: Mapped[int | None] = mapped_column(Integer, default=None)


class User(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "users"

    # Stored lower-cased: addresses are compared case-insensitively everywhere.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20))
    time_zone: Mapped[str] = mapped_column(String(64))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id"), index=True
    )
    # A member's own load limits; None falls back to the organization's default.
    max_interviews_per_day: Mapped[int | None] = mapped_column(Integer, default=None)
    max_interviews_per_week: Mapped[int | None] = mapped_column(Integer, default=None)
    # Weekly working hours in the user's zone: [[weekday 0=Monday, "09:00", "17:00"], ...].
    # None: 09:00-17:00 Monday to Friday (app.scheduling.hours).
    working_hours: Mapped[list[list[int | str]] | None] = mapped_column(JSON, default=None)


class ApiToken(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "api_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    # SHA-256 of the token: the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    # Written at most once a minute, so authenticating stays one statement (SPEC section 5).
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
