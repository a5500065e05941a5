"""What happened, kept with each message: who acted, what changed, what became of bookings.

These facts are written once, when the change is made (in the outbox payload of the mail and
on the in-app notification), because they cannot be read back later: the interview's row
only says who edited it last, not what an earlier edit changed. Everything that can be read
later (times, names, the meeting link, the reader's zone) is read when the message is
rendered, so it is current.

Stored as JSON: instants as ISO 8601 strings in UTC.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.models import User

SYSTEM = "SYSTEM"  # Roundtable itself (reminders)

Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class Actor:
    """Who acted, with the role they acted in (a Role value, or SYSTEM)."""

    name: str
    role: str
    id: uuid.UUID | None = None
    email: str | None = None


@dataclass(frozen=True)
class WindowChanges:
    added: tuple[Span, ...] = ()
    removed: tuple[Span, ...] = ()
    moved: tuple[tuple[Span, Span], ...] = ()  # (before, after)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.moved)


@dataclass(frozen=True)
class Event:
    actor: Actor
    changes: WindowChanges = field(default_factory=WindowChanges)
    # A booking this change cancelled: a reschedule's old interview, or one cancelled at hire.
    cancelled_booking: Span | None = None
    # A booked interview still to come that a hire kept.
    kept_booking: Span | None = None
    withdrawn_requests: int = 0  # pending requests a hire withdrew
    reason: str | None = None
    # An edit that answers the candidate's request for other times.
    answers_alternative: bool = False
    # For messages about a proposal rather than one interview (a hire).
    candidate_id: uuid.UUID | None = None
    candidate_name: str | None = None
    project_title: str | None = None
    organization: str | None = None
    manager_id: uuid.UUID | None = None
    manager_name: str | None = None
    manager_email: str | None = None


def actor_of(user: User) -> Actor:
    return Actor(name=user.name, role=user.role.value, id=user.id, email=user.email)


def system_actor() -> Actor:
    return Actor(name="Roundtable", role=SYSTEM)


def window_changes(before: Sequence[Span], after: Sequence[Span]) -> WindowChanges:
    """Added, removed and moved windows between two sets.

    A window kept as it was is no change. A removed window and an added one that overlap,
    or lie on the same UTC date, read as one window moved; the rest were added or removed.
    """
    kept = set(before) & set(after)
    removed = sorted(w for w in before if w not in kept)
    added = sorted(w for w in after if w not in kept)
    moved: list[tuple[Span, Span]] = []
    for old in list(removed):
        partner = next(
            (
                new
                for new in added
                if (new[0] < old[1] and old[0] < new[1]) or new[0].date() == old[0].date()
            ),
            None,
        )
        if partner is not None:
            moved.append((old, partner))
            removed.remove(old)
            added.remove(partner)
    return WindowChanges(added=tuple(added), removed=tuple(removed), moved=tuple(moved))


def _span_json(span: Span | None) -> list[str] | None:
    return None if span is None else [span[0].isoformat(), span[1].isoformat()]


def _span(value: Any) -> Span | None:
    if not value:
        return None
    return datetime.fromisoformat(value[0]), datetime.fromisoformat(value[1])


def _id(value: Any) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None


def to_json(event: Event) -> dict[str, Any]:
    c = event.changes
    return {
        "actor": {
            "name": event.actor.name,
            "role": event.actor.role,
            "id": str(event.actor.id) if event.actor.id else None,
            "email": event.actor.email,
        },
        "changes": {
            "added": [_span_json(s) for s in c.added],
            "removed": [_span_json(s) for s in c.removed],
            "moved": [[_span_json(a), _span_json(b)] for a, b in c.moved],
        },
        "cancelled_booking": _span_json(event.cancelled_booking),
        "kept_booking": _span_json(event.kept_booking),
        "withdrawn_requests": event.withdrawn_requests,
        "reason": event.reason,
        "answers_alternative": event.answers_alternative,
        "candidate_id": str(event.candidate_id) if event.candidate_id else None,
        "candidate_name": event.candidate_name,
        "project_title": event.project_title,
        "organization": event.organization,
        "manager_id": str(event.manager_id) if event.manager_id else None,
        "manager_name": event.manager_name,
        "manager_email": event.manager_email,
    }


def from_json(data: dict[str, Any] | None) -> Event | None:
    if not data:
        return None
    actor = data.get("actor") or {}
    changes = data.get("changes") or {}

    def spans(key: str) -> tuple[Span, ...]:
        return tuple(s for s in (_span(v) for v in changes.get(key) or []) if s is not None)

    moved = tuple(
        (a, b)
        for a, b in ((_span(pair[0]), _span(pair[1])) for pair in changes.get("moved") or [])
        if a is not None and b is not None
    )
    return Event(
        actor=Actor(
            name=str(actor.get("name") or "Roundtable"),
            role=str(actor.get("role") or SYSTEM),
            id=_id(actor.get("id")),
            email=actor.get("email"),
        ),
        changes=WindowChanges(added=spans("added"), removed=spans("removed"), moved=moved),
        cancelled_booking=_span(data.get("cancelled_booking")),
        kept_booking=_span(data.get("kept_booking")),
        withdrawn_requests=int(data.get("withdrawn_requests") or 0),
        reason=data.get("reason"),
        answers_alternative=bool(data.get("answers_alternative")),
        candidate_id=_id(data.get("candidate_id")),
        candidate_name=data.get("candidate_name"),
        project_title=data.get("project_title"),
        organization=data.get("organization"),
        manager_id=_id(data.get("manager_id")),
        manager_name=data.get("manager_name"),
        manager_email=data.get("manager_email"),
    )
