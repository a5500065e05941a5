"""What an invite and its mail say about people: organizer, attendees, replies, line endings."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar

from app.config import Settings
from app.notifications.delivery import MailDirTransport
from app.notifications.ical import Person
from app.notifications.kinds import InviteMethod
from app.notifications.mail import render_mail, span
from tests.notifications.test_invite_dst_sweep import facts_for, intent_for, invite_of

SETTINGS = Settings.model_construct(mail_from="Roundtable <no-reply@roundtable.test>")
START = datetime(2027, 5, 4, 13, 0, tzinfo=UTC)


def booking_mail() -> email.message.Message:
    mail = render_mail(
        intent_for(START, "Europe/Berlin", InviteMethod.REQUEST),
        facts_for(START, "Europe/Berlin"),
        SETTINGS,
    )
    return email.message_from_bytes(mail.as_bytes())


def test_the_organizer_is_not_asked_to_answer_her_own_invite() -> None:
    [event] = icalendar.Calendar.from_ical(invite_of(booking_mail().as_bytes())).walk("VEVENT")
    organizer = event["ORGANIZER"]
    # RFC 5545: PARTSTAT, ROLE and RSVP belong to attendees.
    assert {"PARTSTAT", "ROLE", "RSVP"}.isdisjoint(organizer.params)
    by_address = {str(a).removeprefix("mailto:"): a.params for a in event["ATTENDEE"]}
    lena = by_address["lena@team.example"]
    assert lena["PARTSTAT"] == "ACCEPTED" and "RSVP" not in lena
    cora = by_address["cora@candidate.example"]
    assert cora["PARTSTAT"] == "NEEDS-ACTION" and cora["RSVP"] == "TRUE"


def test_the_invite_gives_utc_instants_and_no_vtimezone() -> None:
    ics = invite_of(booking_mail().as_bytes())
    assert b"VTIMEZONE" not in ics and b"TZID" not in ics
    assert b"DTSTART:20270504T130000Z" in ics and b"DTEND:20270504T133000Z" in ics


def test_replies_go_to_the_team_member_who_asked_for_the_interview() -> None:
    assert booking_mail()["Reply-To"] == "Lena Lead <lena@team.example>"


def test_the_requester_gets_no_reply_to_herself() -> None:
    intent = intent_for(START, "Europe/Berlin", InviteMethod.REQUEST)
    intent = type(intent)(**{**intent.__dict__, "to": "lena@team.example"})
    mail = render_mail(intent, facts_for(START, "Europe/Berlin"), SETTINGS)
    assert mail["Reply-To"] is None


def test_stored_mail_has_one_line_ending(tmp_path: Path) -> None:
    mail = render_mail(
        intent_for(START, "Europe/Berlin", InviteMethod.REQUEST),
        facts_for(START, "Europe/Berlin"),
        SETTINGS,
    )
    MailDirTransport(tmp_path)._write(mail)
    [stored] = tmp_path.glob("*.eml")
    raw = stored.read_bytes()
    assert b"\r\n" in raw
    assert raw.count(b"\n") == raw.count(b"\r\n"), "bare LF mixed into CRLF"
    assert email.message_from_bytes(raw)["Message-ID"] == mail["Message-ID"]


def test_a_slot_across_clocks_going_back_names_the_end_offset() -> None:
    # New York, 2027-11-07: 01:30 EDT to 01:00 EST is thirty minutes, not minus thirty.
    start = datetime(2027, 11, 7, 5, 30, tzinfo=UTC)
    text = span(start, start + timedelta(minutes=30), "America/New_York")
    assert text.endswith("to 01:00 (UTC-0500)")
    assert "UTC-0400" in text
    ordinary = span(START, START + timedelta(minutes=30), "Europe/Berlin")
    assert ordinary.endswith("to 15:30")


def test_person_names_are_quoted_in_reply_to() -> None:
    facts = facts_for(START, "Europe/Berlin")
    facts = type(facts)(**{**facts.__dict__, "requester": Person("x@team.example", "Lead, Lena")})
    mail = render_mail(intent_for(START, "Europe/Berlin", InviteMethod.REQUEST), facts, SETTINGS)
    assert email.utils.getaddresses([mail["Reply-To"]]) == [("Lead, Lena", "x@team.example")]
