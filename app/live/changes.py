"""What a transaction changed, as subscriptions see it: interviews, and new notifications.

A listener on every ORM session notes, at each flush, the interviews whose row, windows or
participants changed and the notifications inserted; the notes move aside when the
transaction commits and are dropped when it rolls back, so only committed changes are ever
published. The API's unit of work publishes them after its commit (`pop_committed`).

Workers change things too (sync states, reminders). Their sessions are marked when the
worker's session factory is made (`worker_session_info`): on PostgreSQL they NOTIFY inside
the transaction itself (delivered by PostgreSQL only if it commits); in the embedded
default they hand the changes to the API's in-process feed after commit.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import event, text
from sqlalchemy.orm import Session, UOWTransaction

from app.models import AvailabilityWindow, Interview, Notification, Participant

_PENDING = "roundtable.live_pending"
_COMMITTED = "roundtable.live_committed"
_NOTIFY_CHANNEL = "roundtable.live_notify_channel"  # PostgreSQL: NOTIFY in the transaction
_SINK = "roundtable.live_sink"  # otherwise: a thread-safe callable, after commit
CHANGES_PER_NOTIFY = 60  # PostgreSQL's payload limit is 8000 bytes; ~90 bytes a change


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


def worker_session_info(
    *, postgres: bool, channel: str, sink: Callable[[Sequence[Change]], None] | None
) -> dict[str, Any]:
    """The `info` of a worker's sessions, so that their commits are published too."""
    if postgres:
        return {_NOTIFY_CHANNEL: channel}
    return {_SINK: sink} if sink is not None else {}


def notify_payloads(changes: Sequence[Change]) -> list[str]:
    return [
        json.dumps(
            [c.to_json() for c in changes[i : i + CHANGES_PER_NOTIFY]], separators=(",", ":")
        )
        for i in range(0, len(changes), CHANGES_PER_NOTIFY)
    ]


def note_interview_changed(session: Any, interview_id: uuid.UUID) -> None:
    """For changes the flush does not see (a bulk UPDATE): published with the commit."""
    session.info.setdefault(_PENDING, {})[Change("interview", interview_id)] = None


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


@event.listens_for(Session, "before_commit")
def _notify_in_transaction(session: Session) -> None:
    channel = session.info.get(_NOTIFY_CHANNEL)
    if channel is None:
        return
    session.flush()  # the commit's own flush comes after this event: note its changes now
    pending: dict[Change, None] = session.info.pop(_PENDING, {})
    for payload in notify_payloads(list(pending)):
        session.execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": payload}
        )


@event.listens_for(Session, "after_commit")
def _move_committed(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    sink = session.info.get(_SINK)
    if sink is not None:
        sink(list(pending))
    elif _NOTIFY_CHANNEL not in session.info:
        session.info.setdefault(_COMMITTED, {}).update(pending)


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)
