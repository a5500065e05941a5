"""iCalendar invites (RFC 5545 / RFC 5546) for people whose calendars we do not write to.

One UID per interview for its whole life, so every later mail updates or removes the same
event: a booking is METHOD:REQUEST, a cancellation METHOD:CANCEL with STATUS:CANCELLED and
a higher SEQUENCE. The event's times are given in the recipient's own zone, with its
VTIMEZONE, so calendar clients show what the mail says.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Conference, Event, Timezone, vCalAddress
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


def build_invite(details: InviteDetails, *, method: InviteMethod, time_zone: str) -> bytes:
    tz = ZoneInfo(time_zone)
    cancelled = method is InviteMethod.CANCEL
    event = Event.new(
        uid=interview_uid(details.interview_id),
        summary=("Cancelled: " if cancelled else "") + details.summary,
        description=details.description,
        start=details.start.astimezone(tz),
        end=details.end.astimezone(tz),
        stamp=details.stamp,
        sequence=details.sequence,
        status=STATUS.CANCELLED if cancelled else STATUS.CONFIRMED,
        organizer=_address(details.organizer, role="CHAIR", partstat="ACCEPTED", rsvp=False),
        attendees=[
            _address(person, role="REQ-PARTICIPANT", partstat="NEEDS-ACTION", rsvp=True)
            for person in details.attendees
        ],
        location=details.conference_url,
        url=details.conference_url,
        conferences=(
            [Conference(details.conference_url, feature="VIDEO", label="Join the interview")]
            if details.conference_url
            else None
        ),
    )
    # VTIMEZONE before the event that uses it; a narrow range keeps it to the transitions
    # around the interview. UTC needs none (times are written with Z).
    zones = (
        []
        if time_zone == "UTC"
        else [
            _vtimezone(
                time_zone,
                (details.start.astimezone(tz) - timedelta(days=1)).date(),
                (details.end.astimezone(tz) + timedelta(days=1)).date(),
            )
        ]
    )
    calendar = Calendar.new(
        method=method.value,
        prodid=PRODID,
        # Deterministic, so a repeated delivery of one outbox row sends identical bytes.
        uid=f"{interview_uid(details.interview_id)}-{details.sequence}-{method.value}",
        subcomponents=[*zones, event],
    )
    ical: bytes = calendar.to_ical()
    return ical


@lru_cache(maxsize=1024)
def _vtimezone(time_zone: str, first_date: date, last_date: date) -> Timezone:
    """Computing a VTIMEZONE costs milliseconds; one per zone and day serves every invite."""
    return Timezone.from_tzid(time_zone, first_date=first_date, last_date=last_date)


def _address(person: Person, *, role: str, partstat: str, rsvp: bool) -> vCalAddress:
    return vCalAddress.new(
        person.email, cn=person.name or None, role=role, partstat=partstat, rsvp=rsvp or None
    )
