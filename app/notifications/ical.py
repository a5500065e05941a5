"""iCalendar invites (RFC 5545 / RFC 5546) for people whose calendars we do not write to.

One UID per interview for its whole life, so every later mail updates or removes the same
event: a booking is METHOD:REQUEST, a cancellation METHOD:CANCEL with STATUS:CANCELLED and
a higher SEQUENCE.

DTSTART and DTEND are written in UTC (`...Z`). A local time with a VTIMEZONE can be
misread: at a clocks-go-back change the local time is repeated and TZID cannot say which
of the two is meant, a slot can end "before" it starts in local time, and generated
VTIMEZONE definitions are wrong for some zones (Africa/Casablanca's Ramadan period) or
misread by some readers (a definition with only a DAYLIGHT part). A UTC instant has one
reading in every client, which then shows it in its own user's zone; the mail's text gives
the recipient's local times.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from icalendar import Calendar, Conference, Event, vCalAddress
from icalendar.enums import STATUS

from app.notifications.kinds import InviteMethod

PRODID = "-//Roundtable//Interview scheduling//EN"


@dataclass(frozen=True)
class Person:
    email: str
    name: str | None = None


@dataclass(frozen=True)
class InviteDetails:
    interview_id: uuid.UUID
    summary: str
    description: str
    start: datetime
    end: datetime
    organizer: Person
    attendees: tuple[Person, ...]
    conference_url: str | None
    sequence: int
    stamp: datetime  # when the change was made: the same on every retry of one mail


def interview_uid(interview_id: uuid.UUID) -> str:
    return f"interview-{interview_id}@roundtable"


def build_invite(details: InviteDetails, *, method: InviteMethod) -> bytes:
    if details.end <= details.start:
        raise ValueError("an invite's end must be after its start")
    cancelled = method is InviteMethod.CANCEL
    event = Event.new(
        uid=interview_uid(details.interview_id),
        summary=("Cancelled: " if cancelled else "") + details.summary,
        description=details.description,
        start=details.start.astimezone(UTC),
        end=details.end.astimezone(UTC),
        stamp=details.stamp,
        sequence=details.sequence,
        status=STATUS.CANCELLED if cancelled else STATUS.CONFIRMED,
        # RFC 5545: PARTSTAT, ROLE and RSVP are attendee parameters; the organizer, when
        # also an attendee, has accepted her own meeting and is not asked to answer it.
        organizer=vCalAddress.new(details.organizer.email, cn=details.organizer.name or None),
        attendees=[_attendee(person, organizer=details.organizer) for person in details.attendees],
        location=details.conference_url,
        url=details.conference_url,
        conferences=(
            [Conference(details.conference_url, feature="VIDEO", label="Join the interview")]
            if details.conference_url
            else None
        ),
    )
    calendar = Calendar.new(
        method=method.value,
        prodid=PRODID,
        # Deterministic, so a repeated delivery of one outbox row sends identical bytes.
        uid=f"{interview_uid(details.interview_id)}-{details.sequence}-{method.value}",
        subcomponents=[event],
    )
    ical: bytes = calendar.to_ical()
    return ical


def _attendee(person: Person, *, organizer: Person) -> vCalAddress:
    is_organizer = person.email.lower() == organizer.email.lower()
    return vCalAddress.new(
        person.email,
        cn=person.name or None,
        role="CHAIR" if is_organizer else "REQ-PARTICIPANT",
        partstat="ACCEPTED" if is_organizer else "NEEDS-ACTION",
        rsvp=None if is_organizer else True,
    )
