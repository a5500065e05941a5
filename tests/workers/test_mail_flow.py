"""Every kind of mail a whole interview produces renders, in each reader's own zone."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import load_viewer
from app.config import Settings
from app.db import begin_write
from app.models import OutboxMessage
from app.notifications.facts import MailIntent, load_interview_facts, superseded
from app.notifications.ical import interview_uid
from app.notifications.kinds import InviteMethod, MessageKind
from app.notifications.mail import render_mail, span
from app.notifications.text import when
from app.scheduling import booking, requests
from tests.conftest import Clock
from tests.factories import book_first_slot, local_windows, make_interview, make_world

GUEST = "guest@outside.example"
ZONE_SHOWN = re.compile(r"\(([A-Za-z_]+(?:/[A-Za-z_+-]+)*), UTC[+-]\d{4}\)")
OFFERING = {
    MessageKind.INTERVIEW_REQUESTED,
    MessageKind.ADDED_TO_INTERVIEW,
    MessageKind.REQUEST_SENT,
    MessageKind.TIMES_UPDATED,
    MessageKind.BOOKING_REMINDER,
}
BOOKING_TIME = {MessageKind.INTERVIEW_BOOKED, MessageKind.INTERVIEW_CANCELLED}


async def test_every_mail_of_an_interview_renders_in_the_readers_zone(
    session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    await begin_write(session)
    world = await make_world(session)
    side = world.a
    await begin_write(session)
    first = await make_interview(session, settings, side, clock.now, invite_emails=[GUEST])
    member = await load_viewer(session, side.member)
    await begin_write(session)
    await requests.update_availability(
        session=session,
        viewer=member,
        settings=settings,
        interview_id=first.id,
        windows=local_windows(
            clock.now + timedelta(days=4), first.time_zone, [("10:00", "12:00"), ("15:00", "16:00")]
        ),
        notify_participants=True,
        now=clock.now,
    )
    await session.commit()
    await begin_write(session)
    await booking.request_alternative_times(
        session=session,
        viewer=await load_viewer(session, side.candidate),
        interview_id=first.id,
        message="Evenings suit me better",
    )
    await session.commit()
    await begin_write(session)
    await book_first_slot(session, settings, side, first, clock.now)
    await begin_write(session)
    await requests.cancel_interview(
        session=session, viewer=member, interview_id=first.id, reason="moved", now=clock.now
    )
    await session.commit()
    await begin_write(session)
    await requests.hire_candidate(
        session=session, viewer=member, proposal_id=side.proposal.id, now=clock.now
    )
    await session.commit()

    rows = list(
        await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.topic == "mail")
            .order_by(OutboxMessage.created_at)
        )
    )
    kinds = {r.payload["kind"] for r in rows}
    assert kinds >= {
        MessageKind.INTERVIEW_REQUESTED,
        MessageKind.ADDED_TO_INTERVIEW,
        MessageKind.REQUEST_SENT,
        MessageKind.TIMES_UPDATED,
        MessageKind.ALTERNATIVE_TIMES_REQUESTED,
        MessageKind.INTERVIEW_BOOKED,
        MessageKind.INTERVIEW_CANCELLED,
        MessageKind.CANDIDATE_HIRED,
    }
    own_zone = {
        side.candidate.email: "Asia/Kolkata",
        side.member.email: "America/New_York",
        side.manager.email: "Europe/London",
        GUEST: first.time_zone,  # invitees read the team's zone
    }
    assert len(set(own_zone.values())) == 3, "the readers' zones must differ to tell them apart"
    for row in rows:
        intent = MailIntent.from_payload(row.id, row.created_at, row.payload)
        facts = (
            await load_interview_facts(session, intent.interview_id)
            if intent.interview_id
            else None
        )
        mail = render_mail(intent, facts, settings)
        text, html = mail.get_body(("plain",)), mail.get_body(("html",))
        assert text is not None and html is not None, intent.kind
        content = str(text.get_content())
        subject = str(mail["Subject"])
        assert subject and mail["To"] == intent.to
        assert intent.time_zone == own_zone[intent.to], (intent.kind, intent.to)
        # Every time shown, in the subject or the body, is in the reader's zone...
        shown = set(ZONE_SHOWN.findall(subject + "\n" + content))
        assert shown <= {intent.time_zone}, (intent.kind, intent.to, shown)
        # ...and mails about times do show them.
        if facts is not None and intent.kind in OFFERING:
            start, end = facts.windows[0]
            assert span(start, end, intent.time_zone) in content, (intent.kind, intent.to)
        if facts is not None and intent.kind in BOOKING_TIME:
            assert facts.booked_start is not None and facts.booked_end is not None
            assert span(facts.booked_start, facts.booked_end, intent.time_zone) in content
            if intent.kind == MessageKind.INTERVIEW_BOOKED:
                assert when(facts.booked_start, intent.time_zone) in " ".join(subject.split())
        if intent.kind == MessageKind.ALTERNATIVE_TIMES_REQUESTED:
            assert '"Evenings suit me better"' in content
        if intent.kind == MessageKind.TIMES_UPDATED and intent.to == side.candidate.email:
            assert f"Select an interview time: {settings.public_url}/links/" in content
            local = ZoneInfo("Asia/Kolkata")
            day = (clock.now + timedelta(days=4)).astimezone(local)
            assert f"{day:%a %d %b %Y}" in content or "Asia/Kolkata" in content

    booked_invites = [r for r in rows if r.payload["invite"] == InviteMethod.REQUEST.value]
    assert booked_invites, "the booking mailed invites"
    facts = await load_interview_facts(session, first.id)
    for row in booked_invites:
        intent = MailIntent.from_payload(row.id, row.created_at, row.payload)
        assert superseded(intent, facts) == (
            "the booking was cancelled before its invite went out"
        ), "an invite still queued after its cancellation is not sent"


async def _invites(
    session: AsyncSession, settings: Settings, kind: MessageKind
) -> dict[str, Calendar | None]:
    """Each recipient's mail of this kind, rendered as the worker would: its invite, if any."""
    rows = await session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "mail"))
    found: dict[str, Calendar | None] = {}
    for row in rows:
        if row.payload["kind"] != kind:
            continue
        intent = MailIntent.from_payload(row.id, row.created_at, row.payload)
        assert intent.interview_id is not None
        mail = render_mail(intent, await load_interview_facts(session, intent.interview_id), settings)
        parts = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
        calendar = Calendar.from_ical(parts[0].get_content()) if parts else None
        if calendar is not None:
            assert calendar["METHOD"] == parts[0].get_param("method")
        found[intent.to] = calendar
    await session.commit()
    return found


async def test_a_cancellation_invite_cancels_the_same_event_with_a_higher_sequence(
    session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    """METHOD and SEQUENCE as calendars need them, without a broker or an SMTP server."""
    await begin_write(session)
    world = await make_world(session)
    side = world.a
    await begin_write(session)
    interview = await make_interview(session, settings, side, clock.now, invite_emails=[GUEST])
    await begin_write(session)
    await book_first_slot(session, settings, side, interview, clock.now)
    booked = await _invites(session, settings, MessageKind.INTERVIEW_BOOKED)
    await begin_write(session)
    await requests.cancel_interview(
        session=session,
        viewer=await load_viewer(session, side.member),
        interview_id=interview.id,
        reason="filled",
        now=clock.now,
    )
    await session.commit()
    cancelled = await _invites(session, settings, MessageKind.INTERVIEW_CANCELLED)

    invited = {side.candidate.email, side.member.email, GUEST}
    for found, method, sequence in [(booked, "REQUEST", 0), (cancelled, "CANCEL", 1)]:
        assert found[side.manager.email] is None, "the manager is told, not invited"
        assert {to for to, calendar in found.items() if calendar is not None} == invited
        for to in invited:
            calendar = found[to]
            assert calendar is not None
            event = calendar.events[0]
            assert (calendar["METHOD"], int(event["SEQUENCE"])) == (method, sequence), to
            assert event["UID"] == interview_uid(interview.id), to
            if method == "CANCEL":
                assert event["STATUS"] == "CANCELLED", to
