"""Invites at DST edges: every slot near every transition reads back as the booked instants.

Each 30-minute slot within 6 hours of every UTC-offset change of 2026-2028 in zones with
unusual rules (a Ramadan pause, 30-minute shifts, :45 offsets, southern summers) is
rendered as the whole booking mail and its cancellation, and the invite is parsed back by
two parsers we did not write (icalendar and vobject). Each must give exactly the booked
instants; no mail may fail.
"""

from __future__ import annotations

import email
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject

from app.config import Settings
from app.models import InterviewStatus
from app.notifications.facts import InterviewFacts, MailIntent
from app.notifications.ical import Person, build_invite
from app.notifications.kinds import InviteMethod, MessageKind
from app.notifications.mail import _invite_details, render_mail

ZONES = (
    "Africa/Casablanca",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Sydney",
    "America/Santiago",
    "Asia/Tehran",  # no changes since 2022: swept around its former dates
    "Asia/Kathmandu",  # +05:45, never changes
    "America/St_Johns",
    "Europe/London",
    "America/Los_Angeles",
    "Asia/Gaza",
    "America/Havana",
    "Pacific/Auckland",
    "Europe/Dublin",
    "America/Asuncion",
)
SLOT = timedelta(minutes=30)
REACH = timedelta(hours=6)


def transitions(zone: str) -> Iterator[datetime]:
    """UTC instants at which the zone's offset changes, 2026-2028 (to the half hour)."""
    tz = ZoneInfo(zone)
    instant = datetime(2026, 1, 1, tzinfo=UTC)
    offset = instant.astimezone(tz).utcoffset()
    while instant < datetime(2029, 1, 1, tzinfo=UTC):
        instant += SLOT
        current = instant.astimezone(tz).utcoffset()
        if current != offset:
            offset = current
            yield instant


# Zones that no longer change still get the sweep, around the equinoxes.
FORMER_CHANGES = (
    datetime(2027, 3, 21, 20, 30, tzinfo=UTC),
    datetime(2027, 9, 21, 19, 30, tzinfo=UTC),
)


def slots_near_transitions(zone: str) -> list[datetime]:
    starts: set[datetime] = set()
    for change in list(transitions(zone)) or FORMER_CHANGES:
        start = change - REACH
        while start <= change + REACH:
            starts.add(start)
            start += SLOT
    return sorted(starts)


def facts_for(start: datetime, zone: str) -> InterviewFacts:
    return InterviewFacts(
        interview_id=uuid.UUID(int=int(start.timestamp())),
        round=1,
        status=InterviewStatus.BOOKED,
        project_title="Data platform",
        team_time_zone=zone,
        candidate=Person("cora@candidate.example", "Cora Candidate"),
        candidate_id=uuid.uuid4(),
        requester=Person("lena@team.example", "Lena Lead"),
        participants=(Person("lena@team.example", "Lena Lead"),),
        windows=((start, start + SLOT),),
        booked_start=start,
        booked_end=start + SLOT,
        conference_url="https://meet.jit.si/roundtable-sweep",
        cancel_reason=None,
        alternative_message=None,
        ical_sequence=1,
    )


def intent_for(start: datetime, zone: str, method: InviteMethod) -> MailIntent:
    return MailIntent(
        outbox_id=uuid.uuid4(),
        created_at=start - timedelta(days=1),
        kind=(
            MessageKind.INTERVIEW_BOOKED
            if method is InviteMethod.REQUEST
            else MessageKind.INTERVIEW_CANCELLED
        ).value,
        to="cora@candidate.example",
        time_zone=zone,
        user_id=None,
        interview_id=None,
        invite=method,
        sequence=1,
        message="",
    )


def invite_of(mail_bytes: bytes) -> bytes:
    """The inline invitation, as a mail client finds it in the bytes we send."""
    mail = email.message_from_bytes(mail_bytes)
    [part] = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload


def instants_by_icalendar(ics: bytes) -> tuple[datetime, datetime]:
    [event] = icalendar.Calendar.from_ical(ics).walk("VEVENT")
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert start.tzinfo is not None and end.tzinfo is not None
    return start.astimezone(UTC), end.astimezone(UTC)


def instants_by_vobject(ics: bytes) -> tuple[datetime, datetime]:
    calendar = vobject.readOne(ics.decode())
    event = calendar.vevent
    start, end = event.dtstart.value, event.dtend.value
    assert start.tzinfo is not None and end.tzinfo is not None
    return start.astimezone(UTC), end.astimezone(UTC)


@pytest.mark.parametrize("zone", ZONES)
def test_every_slot_near_a_dst_change_reads_back_as_the_booked_instants(zone: str) -> None:
    settings = Settings.model_construct(mail_from="Roundtable <no-reply@roundtable.test>")
    starts = slots_near_transitions(zone)
    # Two changes a year (four for Casablanca's Ramadan pause) over three years, or the
    # zone's rules were not read at all.
    assert len(starts) >= 2 * 24, f"{zone}: only {len(starts)} slots near transitions"
    wrong: list[str] = []
    for start in starts:
        facts = facts_for(start, zone)
        # The whole booking mail, as sent; the cancellation's invite alone (same code path
        # for the times, half the cost).
        mail = render_mail(intent_for(start, zone, InviteMethod.REQUEST), facts, settings)
        invites = {
            InviteMethod.REQUEST: invite_of(mail.as_bytes()),
            InviteMethod.CANCEL: build_invite(
                _invite_details(intent_for(start, zone, InviteMethod.CANCEL), facts),
                method=InviteMethod.CANCEL,
            ),
        }
        expected = (start, start + SLOT)
        for method, ics in invites.items():
            for parser in (instants_by_icalendar, instants_by_vobject):
                got = parser(ics)
                if got != expected:
                    wrong.append(f"{parser.__name__} {method}: {got} for {expected}")
    assert not wrong, f"{zone}: {len(wrong)} misread, e.g. {wrong[:3]}"


def test_the_sweep_sees_the_transitions_that_break_local_times() -> None:
    # The instants named in the issue are among the slots swept: a slot that crosses New
    # York's clocks-go-back change, and Casablanca's return from its Ramadan offset.
    new_york = slots_near_transitions("America/New_York")
    assert datetime(2027, 11, 7, 5, 30, tzinfo=UTC) in new_york  # 01:30 EDT, ends 01:00 EST
    casablanca = list(transitions("Africa/Casablanca"))
    assert any(change.date() == datetime(2027, 2, 7).date() for change in casablanca)
    lord_howe = list(transitions("Australia/Lord_Howe"))
    assert len(lord_howe) == 6
