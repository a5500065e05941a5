"""Grants behind the signed links in mails: who may reach which interview, until revoked."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAtMixin, IdMixin


class LinkScope(enum.StrEnum):
    CANDIDATE = "CANDIDATE"  # view, list slots, book, ask for other times, cancel
    VIEWER = "VIEWER"  # members, invitees, the account manager: view only


class LinkGrant(IdMixin, CreatedAtMixin, Base):
    """One per mail that carries a link.

    The token itself is never stored: it is the grant's id and an expiry, signed with a key
    derived from the secret key (app/links/tokens.py). The row exists so a link can be
    revoked and so the page knows whom it speaks to.
    """

    __tablename__ = "link_grants"

    interview_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE"), index=True
    )
    # A user (candidate, member, account manager) or an invitee known only by email.
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    scope: Mapped[LinkScope] = mapped_column(Enum(LinkScope, native_enum=False, length=20))
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_reason: Mapped[str | None] = mapped_column(String(40), default=None)
