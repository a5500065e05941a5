"""Projects and the candidates' proposals (applications) to them."""

from __future__ import annotations

import enum
import uuid

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAtMixin, IdMixin


class ProposalStatus(enum.StrEnum):
    OPEN = "OPEN"
    HIRED = "HIRED"
    CLOSED = "CLOSED"


class Project(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "projects"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    account_manager_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)


class Proposal(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "proposals"
    __table_args__ = (UniqueConstraint("project_id", "candidate_id"),)

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"), index=True)
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[ProposalStatus] = mapped_column(
        Enum(ProposalStatus, native_enum=False, length=10), default=ProposalStatus.OPEN
    )
