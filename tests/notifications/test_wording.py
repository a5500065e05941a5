"""Each kind of message, to each kind of reader: subject, person of address, who acted, what
changed and the link, rendered in three reader zones (two of them at :30 and :45 offsets).

The messages are those a whole story queues (tests/notifications/story.py); each is rendered
as the mail worker would, and its in-app twin as the notifications field would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import Viewer, load_viewer
from app.config import Settings
from app.links.tokens import read_link
from app.models import Interview, LinkGrant, LinkScope, Notification, OutboxMessage, User
from app.notifications.facts import MailIntent, load_interview_facts
from app.notifications.inapp import in_app_text
from app.notifications.kinds import MessageKind as K
from app.notifications.mail import render_mail
from app.notifications.text import when
from app.notifications.wording import span
from tests.conftest import Clock
from tests.factories import local_windows
from tests.notifications.story import GUEST, Story, tell_story

# A :45 zone, a :30 zone west of UTC, and a whole-hour zone with DST.
ZONES = ["Asia/Kathmandu", "America/St_Johns", "Europe/Berlin"]
ZONE_SHOWN = re.compile(r"\(([A-Za-z_]+(?:/[A-Za-z_+-]+)*), UTC[+-]\d{4}\)")
LINK = re.compile(r"^([A-Z][^:\n]+): (https?://\S+)$", re.M)

# (kind, reader) pairs: every message kind and every role it goes to.
CASES = [
    (K.INTERVIEW_REQUESTED, "candidate"),
    (K.ADDED_TO_INTERVIEW, "colleague"),
    (K.ADDED_TO_INTERVIEW, "guest"),
    (K.ADDED_TO_INTERVIEW, "member"),  # the requester, who takes part: told as "you"
    (K.REQUEST_SENT, "manager"),
    (K.TIMES_UPDATED, "candidate"),
    (K.TIMES_UPDATED, "member"),
    (K.TIMES_UPDATED, "colleague"),
    (K.TIMES_UPDATED, "guest"),
    (K.TIMES_UPDATED, "manager"),
    (K.ALTERNATIVE_TIMES_REQUESTED, "member"),
    (K.ALTERNATIVE_TIMES_REQUESTED, "manager"),
    (K.BOOKING_REMINDER, "candidate"),
    (K.REMINDER_SENT, "manager"),
    (K.INTERVIEW_BOOKED, "candidate"),
    (K.INTERVIEW_BOOKED, "member"),
    (K.INTERVIEW_BOOKED, "guest"),
    (K.INTERVIEW_BOOKED, "manager"),
    (K.INTERVIEW_RESCHEDULED, "candidate"),
    (K.INTERVIEW_RESCHEDULED, "colleague"),
    (K.INTERVIEW_RESCHEDULED, "guest"),
    (K.INTERVIEW_RESCHEDULED, "manager"),  # who rescheduled: told as "you"
    (K.INTERVIEW_CANCELLED, "candidate"),  # who cancelled: told as "you"
    (K.INTERVIEW_CANCELLED, "member"),
    (K.INTERVIEW_CANCELLED, "guest"),
    (K.INTERVIEW_CANCELLED, "manager"),
    (K.CANDIDATE_HIRED, "candidate"),
    (K.CANDIDATE_HIRED, "member"),  # who hired: told as "you"
    (K.CANDIDATE_HIRED, "manager"),
]


@dataclass
class Read:
    """One message as its reader sees it in one zone."""

    mail: EmailMessage
    subject: str
    text: str  # the plain-text part, greeting left out
    html: str
    in_app: str | None
    zone: str

    @property
    def links(self) -> dict[str, str]:
        return dict(LINK.findall(self.text))


def _address(story: Story, reader: str) -> tuple[str, User | None]:
    side = story.side
    users = {
        "candidate": side.candidate,
        "member": side.member,
        "colleague": side.colleague,
        "manager": side.manager,
    }
    if reader == "guest":
        return GUEST, None
    return users[reader].email, users[reader]


def _about(story: Story, kind: str) -> Interview | None:
    """Which interview a kind's message is about in the story."""
    about: dict[str, Interview | None] = {
        K.INTERVIEW_REQUESTED: story.first,
        K.ADDED_TO_INTERVIEW: story.first,
        K.REQUEST_SENT: story.first,
        K.TIMES_UPDATED: story.first,
        K.ALTERNATIVE_TIMES_REQUESTED: story.first,
        K.BOOKING_REMINDER: story.first,
        K.REMINDER_SENT: story.first,
        K.INTERVIEW_BOOKED: story.first,
        K.INTERVIEW_RESCHEDULED: story.second,
        K.INTERVIEW_CANCELLED: story.second,
        K.CANDIDATE_HIRED: None,
    }
    return about[kind]


async def _read(
    session: AsyncSession,
    settings: Settings,
    story: Story,
    row: OutboxMessage,
    zone: str,
    reader: User | None,
) -> Read:
    intent = MailIntent.from_payload(row.id, row.created_at, row.payload)
    facts = (
        await load_interview_facts(session, intent.interview_id) if intent.interview_id else None
    )
    invite_facts = (
        await load_interview_facts(session, intent.invite_interview_id)
        if intent.invite_interview_id
        else None
    )
    mail = render_mail(
        intent,
        facts,
        settings,
        recipient_name="Reader",
        reader_zone=zone,
        invite_facts=invite_facts,
    )
    text_part, html_part = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text_part is not None and html_part is not None
    text = str(text_part.get_content())
    assert text.startswith("Hello Reader,\n")
    in_app = None
    if reader is not None:
        notification = await session.scalar(
            select(Notification).where(Notification.email_outbox_id == row.id)
        )
        assert notification is not None
        in_app = in_app_text(
            notification,
            facts,
            viewer=Viewer(
                User(
                    id=reader.id,
                    email=reader.email,
                    name=reader.name,
                    role=reader.role,
                    organization_id=reader.organization_id,
                    time_zone=zone,
                ),
                (await load_viewer(session, reader)).managed_organization_ids,
            ),
            settings=settings,
        )
    return Read(
        mail=mail,
        subject=" ".join(str(mail["Subject"]).split()),
        text=text.removeprefix("Hello Reader,\n"),
        html=str(html_part.get_content()),
        in_app=in_app,
        zone=zone,
    )


async def _grant(session: AsyncSession, settings: Settings, url: str) -> LinkGrant:
    token = url.rsplit("/", 1)[1]
    assert url.startswith(f"{settings.public_url}/links/"), url
    grant = await session.get(
        LinkGrant, read_link(secret_key=settings.secret_key, token=token).grant_id
    )
    assert grant is not None
    return grant


async def test_each_message_reads_right_to_its_reader(
    session: AsyncSession, settings: Settings, clock: Clock, subtests: pytest.Subtests
) -> None:
    """One story told once; each (kind, reader role) is its own subtest."""
    story = await tell_story(session, settings, clock)
    for kind, reader in CASES:
        with subtests.test(kind=str(kind), reader=reader):
            await _check(session, settings, story, kind, reader)


async def _check(
    session: AsyncSession, settings: Settings, story: Story, kind: str, reader: str
) -> None:
    side = story.side
    org = side.organization.name
    email, user = _address(story, reader)
    about = _about(story, kind)
    row = story.row(kind, email, about) if about is not None else story.row(kind, email)
    names = {
        "member": "Lena Lead (hiring team, " + org + ")",
        "manager": "Ann Manager (account manager)",
        "candidate": "Cora Candidate (candidate)",
    }
    actors: dict[str, str | None] = {
        K.INTERVIEW_REQUESTED: "member",
        K.ADDED_TO_INTERVIEW: "member",
        K.REQUEST_SENT: "member",
        K.TIMES_UPDATED: "member",
        K.ALTERNATIVE_TIMES_REQUESTED: "candidate",
        K.BOOKING_REMINDER: None,
        K.REMINDER_SENT: None,
        K.INTERVIEW_BOOKED: "candidate",
        K.INTERVIEW_RESCHEDULED: "manager",
        K.INTERVIEW_CANCELLED: "candidate",
        K.CANDIDATE_HIRED: "member",
    }
    actor = actors[kind]

    for zone in ZONES:
        read = await _read(session, settings, story, row, zone, user)
        body = read.text
        # Times, wherever they are shown, are in the reader's zone and nowhere another's.
        assert set(ZONE_SHOWN.findall(read.subject + "\n" + body)) <= {zone}, (zone, body)
        # Plain text and HTML say the same: every paragraph and link is in both.
        for line in body.splitlines():
            if line and not line.startswith(("  - ", "-- ")) and not LINK.match(line):
                assert _html_escape(line) in read.html, line
        for label, url in read.links.items():
            assert f'<a href="{url}">{label}</a>' in read.html
        # Answers reach the account manager; the manager's own reach the team member who
        # asked for the interview, unless that is the manager (then Roundtable's address).
        if reader != "manager":
            assert side.manager.email in str(read.mail["Reply-To"])
        elif about is None or about.requested_by_id == side.member.id:
            # (a hire, about no one interview: whoever made it, here the member)
            assert side.member.email in str(read.mail["Reply-To"])
        else:
            assert read.mail["Reply-To"] is None

        # Person of address: "you" to the person the message is about.
        if reader == "candidate":
            assert "Cora Candidate" not in read.subject + body, (kind, body)
            assert re.search(r"\b[Yy]ou(r)?\b", body)
        # Who acted, with their role; "You" to the one who did it.
        if actor is None:
            assert "Roundtable" in body
        elif actor == reader:
            assert re.search(r"(^|\. |\n)You ", body), body
            assert names[actor] not in body
        else:
            assert names[actor] in body, (names[actor], body)

        _what_changed(story, kind, reader, read, zone)
        await _link(session, settings, story, kind, reader, read)
        if read.in_app is not None:
            # The in-app message is the same text, written for the same reader and zone.
            first_paragraph = body.strip().split("\n\n")[0]
            assert first_paragraph in read.in_app
            assert set(ZONE_SHOWN.findall(read.in_app)) <= {zone}
            for url in read.links.values():
                if "/links/" not in url:
                    assert url in read.in_app


def _html_escape(line: str) -> str:
    import html

    return html.escape(line)


def _ny(day: datetime, start: str, end: str, zone: str) -> str:
    """A New York window on the team's local date of `day`, as the reader's zone shows it."""
    [window] = local_windows(day, "America/New_York", [(start, end)])
    ny = ZoneInfo("America/New_York")
    return span(
        datetime.fromisoformat(window.start).replace(tzinfo=ny),
        datetime.fromisoformat(window.end).replace(tzinfo=ny),
        zone,
    )


def _what_changed(story: Story, kind: str, reader: str, read: Read, zone: str) -> None:
    body = read.text
    first, second, third = story.first, story.second, story.third
    match kind:
        case K.TIMES_UPDATED:
            assert "What changed:" in body
            changes = [line[4:] for line in body.splitlines() if line.startswith("  - ")]
            moved = [c for c in changes if c.startswith("moved ")]
            added = [c for c in changes if c.startswith("added ")]
            removed = [c for c in changes if c.startswith("removed ")]
            assert len(moved) == len(added) == len(removed) == 1, changes
            # As the story edits: day 3 14:00-15:00 moved to 15:00-16:00 (New York), day 4
            # 10:00-11:00 added, day 5 09:00-10:00 removed.
            day3, day4, day5 = (story.requested_at + timedelta(days=n) for n in (3, 4, 5))
            assert moved == [
                f"moved {_ny(day3, '14:00', '15:00', zone)}, now "
                f"{_ny(day3, '15:00', '16:00', zone)}"
            ]
            assert added == [f"added {_ny(day4, '10:00', '11:00', zone)}"]
            assert removed == [f"removed {_ny(day5, '09:00', '10:00', zone)}"]
        case K.INTERVIEW_BOOKED:
            assert first.booked_start and first.booked_end
            assert f"When: {span(first.booked_start, first.booked_end, zone)}" in body
            assert when(first.booked_start, zone) in read.subject
        case K.INTERVIEW_RESCHEDULED:
            assert first.booked_start and first.booked_end
            old = span(first.booked_start, first.booked_end, zone)
            assert f"interview of {old} is cancelled" in body
            assert "New times offered" in body
            if reader == "candidate":
                assert read.subject.startswith(
                    f"New times offered: your interview of {when(first.booked_start, zone)} "
                    "is cancelled"
                )
                assert "Lena is travelling" in body
            _calendar(read, "CANCEL", first, expect=reader in {"candidate", "colleague", "guest"})
        case K.INTERVIEW_CANCELLED:
            assert second.booked_start and second.booked_end
            assert span(second.booked_start, second.booked_end, zone) in body
            assert "a clash at work" in body
            _calendar(read, "CANCEL", second, expect=reader in {"candidate", "member", "guest"})
        case K.CANDIDATE_HIRED:
            assert third.booked_start and third.booked_end
            assert span(third.booked_start, third.booked_end, zone) in body
            if reader == "candidate":
                assert "would like to hire you" in body and "cancelled" not in body.lower()
                assert read.subject.startswith("Offer from ")
            _calendar(read, "CANCEL", third, expect=reader in {"candidate", "member"})
        case K.ALTERNATIVE_TIMES_REQUESTED:
            assert '"Evenings suit me"' in body
            if reader == "manager":
                assert "edit" not in body.lower(), "account managers do not edit the times"
        case _:
            if kind in {K.INTERVIEW_REQUESTED, K.ADDED_TO_INTERVIEW, K.REQUEST_SENT}:
                assert "Times offered, in your time zone" in body


def _calendar(read: Read, method: str, interview: Interview, *, expect: bool) -> None:
    from icalendar import Calendar

    parts = [p for p in read.mail.walk() if p.get_content_type() == "text/calendar"]
    if not expect:
        assert not parts
        return
    [part] = parts
    calendar = Calendar.from_ical(part.get_content())
    [event] = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == method
    assert str(event["UID"]) == f"interview-{interview.id}@roundtable"
    assert int(str(event["SEQUENCE"])) == interview.ical_sequence


LINKS: dict[tuple[str, str], tuple[str, str, str]] = {
    # kind, reader -> (label, interview, scope); None: no link of ours (nothing to act on)
    (K.INTERVIEW_REQUESTED, "candidate"): ("Select an interview time", "first", "CANDIDATE"),
    (K.TIMES_UPDATED, "candidate"): ("Select an interview time", "first", "CANDIDATE"),
    (K.BOOKING_REMINDER, "candidate"): ("Select an interview time", "first", "CANDIDATE"),
    (K.INTERVIEW_BOOKED, "candidate"): ("View or cancel your interview", "first", "CANDIDATE"),
    (K.INTERVIEW_RESCHEDULED, "candidate"): ("Select an interview time", "second", "CANDIDATE"),
}


async def _link(
    session: AsyncSession, settings: Settings, story: Story, kind: str, reader: str, read: Read
) -> None:
    links = read.links
    if kind == K.INTERVIEW_BOOKED:
        assert links.get("Join the interview") == story.first.conference_url
    expected = LINKS.get((kind, reader))
    if expected is None and kind in {K.INTERVIEW_CANCELLED, K.CANDIDATE_HIRED}:
        assert not [u for u in links.values() if "/links/" in u]
        return
    if expected is None:
        expected = (
            "View the interview",
            "second" if kind == K.INTERVIEW_RESCHEDULED else "first",
            "VIEWER",
        )
    label, which, scope = expected
    assert label in links, (kind, reader, links)
    grant = await _grant(session, settings, links[label])
    interview: Interview = getattr(story, which)
    assert grant.interview_id == interview.id
    assert grant.scope is LinkScope(scope)


async def test_a_mail_queued_before_events_were_kept_still_names_who_acted(
    session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    """Rows written by the previous release carry no event: the actor is told from the kind."""
    story = await tell_story(session, settings, clock)
    side = story.side
    for to, expected in [
        (side.candidate.email, "You booked your interview"),
        (side.member.email, "Cora Candidate (candidate) booked round 1"),
    ]:
        row = story.row(K.INTERVIEW_BOOKED, to, story.first)
        payload = {k: v for k, v in row.payload.items() if k != "event"}
        intent = MailIntent.from_payload(row.id, row.created_at, payload)
        assert intent.event is None
        facts = await load_interview_facts(session, story.first.id)
        mail = render_mail(intent, facts, settings)
        body = mail.get_body(("plain",))
        assert body is not None
        assert expected in str(body.get_content()), to
    await session.commit()
