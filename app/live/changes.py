"""What a transaction changed, as subscriptions see it: interviews, and new notifications.

A listener on every ORM session notes, at each flush, the interviews whose row, windows or
participants changed and the notifications inserted; the notes move aside when the
transaction commits and are dropped when it rolls back, so only committed changes are ever
published. The unit of work publishes them after its commit (`pop_committed`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction

from app.models import AvailabilityWindow, Interview, Notification, Participant

_PENDING = "roundtable.live_pending"
_COMMITTED = "roundtable.live_committed"


@dataclass(frozen=True)
class Change:
    kind: Literal["interview", "notification"]
    id: uuid.UUID
    user_id: uuid.UUID | None = None  # a notification's reader

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"k": self.kind[0], "id": str(self.id)}
        if self.user_id is not None:
            data["u"] = str(self.user_id)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Change:
        kind: Literal["interview", "notification"] = (
            "interview" if data["k"] == "i" else "notification"
        )
        user = data.get("u")
        return cls(kind, uuid.UUID(data["id"]), uuid.UUID(user) if user else None)


def pop_committed(session: Any) -> list[Change]:
    """The changes of the transactions committed since the last call (AsyncSession or Session)."""
    changes: dict[Change, None] = session.info.pop(_COMMITTED, {})
    return list(changes)


def _interview_of(obj: object) -> uuid.UUID | None:
    if isinstance(obj, Interview):
        return obj.id
    if isinstance(obj, AvailabilityWindow | Participant):
        return obj.interview_id
    return None


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _flush: UOWTransaction) -> None:
    noted: dict[Change, None] = session.info.setdefault(_PENDING, {})
    for obj in session.new:
        if isinstance(obj, Notification):
            noted[Change("notification", obj.id, obj.user_id)] = None
    for obj in (*session.new, *session.dirty, *session.deleted):
        interview_id = _interview_of(obj)
        if interview_id is None:
            continue
        if obj in session.new or obj in session.deleted or session.is_modified(obj):
            noted[Change("interview", interview_id)] = None


@event.listens_for(Session, "after_commit")
def _move_committed(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.info.setdefault(_COMMITTED, {}).update(pending)


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)
