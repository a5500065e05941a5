"""The parts every message is made of: who reads it, who acted, times in the reader's zone.

The words of each kind are in app.notifications.wording.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from app.models import Role
from app.notifications.events import SYSTEM, Actor, Event, Span, system_actor
from app.notifications.facts import InterviewFacts
from app.notifications.text import when

SELECT_LABEL = "Select an interview time"
VIEW_LABEL = "View the interview"
BOOKED_LABEL = "View or cancel your interview"
JOIN_LABEL = "Join the interview"


class ReaderRole(enum.StrEnum):
    CANDIDATE = "CANDIDATE"
    TEAM = "TEAM"  # a hiring member (the requester or a participant)
    INVITEE = "INVITEE"  # known by email only: reads the team's zone
    MANAGER = "MANAGER"  # the project's account manager


@dataclass
class Body:
    subject: str
    paragraphs: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    changes_title: str = "What changed:"
    times: list[str] = field(default_factory=list)
    times_title: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, url)

    def in_app(self) -> str:
        """The in-app text: the same words as the mail, on one line."""
        parts = list(self.paragraphs)
        if self.changes:
            parts.append(self.changes_title + " " + "; ".join(self.changes) + ".")
        if self.times:
            parts.append(self.times_title + " " + "; ".join(self.times) + ".")
        parts += [f"{label}: {url}" for label, url in self.links]
        return " ".join(parts)


@dataclass(frozen=True)
class Message:
    kind: str
    reader_id: uuid.UUID | None  # None: an invitee
    reader_email: str
    time_zone: str  # the reader's, valid
    facts: InterviewFacts | None
    event: Event | None
    link: str | None = None  # the reader's signed link (app.links), if the message has one

    @property
    def actor(self) -> Actor:
        return self.event.actor if self.event is not None else system_actor()

    @property
    def role(self) -> ReaderRole:
        f, e = self.facts, self.event
        candidate_id = f.candidate_id if f else (e.candidate_id if e else None)
        manager_id = f.manager_id if f else (e.manager_id if e else None)
        if self.reader_id is not None and self.reader_id == candidate_id:
            return ReaderRole.CANDIDATE
        if f is not None and self.reader_email == f.candidate.email:
            return ReaderRole.CANDIDATE
        if self.reader_id is not None and self.reader_id == manager_id:
            return ReaderRole.MANAGER
        if self.reader_id is None:
            return ReaderRole.INVITEE
        return ReaderRole.TEAM

    @property
    def reader_acted(self) -> bool:
        return self.reader_id is not None and self.reader_id == self.actor.id


def span(start: datetime, end: datetime, tz_name: str) -> str:
    tz = ZoneInfo(tz_name)
    local_end = end.astimezone(tz)
    if local_end.utcoffset() == start.astimezone(tz).utcoffset():
        return f"{when(start, tz_name)} to {local_end:%H:%M}"
    # The clocks change during the slot ("01:30 to 01:00" alone would read as negative).
    return f"{when(start, tz_name)} to {local_end:%H:%M} (UTC{local_end:%z})"


def _role_label(actor: Actor, organization: str) -> str:
    if actor.role == Role.CANDIDATE.value:
        return "candidate"
    if actor.role == Role.HIRING_MEMBER.value:
        return f"hiring team, {organization}" if organization else "hiring team"
    if actor.role == Role.ACCOUNT_MANAGER.value:
        return "account manager"
    if actor.role == Role.ADMIN.value:
        return "Roundtable admin"
    return "automatic"


def who(m: Message, *, capital: bool = True) -> str:
    """Who acted, as the reader knows them: "You", or a name with its role."""
    actor = m.actor
    if m.reader_acted:
        return "You" if capital else "you"
    if actor.role == SYSTEM:
        return "Roundtable"
    return f"{actor.name} ({_role_label(actor, organization_of(m))})"


def organization_of(m: Message) -> str:
    if m.facts is not None:
        return m.facts.organization
    return (m.event.organization if m.event else None) or ""


def candidate_name(m: Message) -> str:
    if m.facts is not None:
        return m.facts.candidate.name or m.facts.candidate.email
    return (m.event.candidate_name if m.event else None) or "the candidate"


def manager_name(m: Message) -> str:
    if m.facts is not None and m.facts.manager is not None:
        return m.facts.manager.name or m.facts.manager.email
    return (m.event.manager_name if m.event else None) or "your account manager"


def round_text(f: InterviewFacts) -> str:
    return f"round {f.round} of interviews for {f.project_title}"


def tag(f: InterviewFacts) -> str:
    return f"{f.project_title}, round {f.round}"


def add_offered(body: Body, m: Message, title: str = "Times offered") -> None:
    assert m.facts is not None
    body.times_title = f"{title}, in your time zone ({m.time_zone}):"
    body.times = [span(start, end, m.time_zone) for start, end in m.facts.windows]


def add_changes(body: Body, m: Message) -> None:
    if m.event is None:
        return
    tz, c = m.time_zone, m.event.changes
    body.changes = [
        *(f"added {span(*s, tz)}" for s in c.added),
        *(f"removed {span(*s, tz)}" for s in c.removed),
        *(f"moved {span(*a, tz)}, now {span(*b, tz)}" for a, b in c.moved),
    ]
    body.changes_title = "What changed:" if body.changes else ""


def reason_lines(m: Message) -> list[str]:
    reason = m.event.reason if m.event else None
    return [f"Reason given: {reason}"] if reason else []


def own_link(m: Message, label: str) -> list[tuple[str, str]]:
    return [(label, m.link)] if m.link else []


def booking_of(m: Message) -> Span | None:
    f = m.facts
    if f is None or f.booked_start is None or f.booked_end is None:
        return None
    return f.booked_start, f.booked_end
