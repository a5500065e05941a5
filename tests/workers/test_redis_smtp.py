"""Mails through the real Redis broker into a real SMTP server, parsed back."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, timedelta
from email.message import EmailMessage

from icalendar import Calendar
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.access import load_viewer
from app.config import Settings
from app.db import begin_write
from app.models import OutboxStatus
from app.notifications.ical import interview_uid
from app.scheduling import requests
from app.workers.background import Background
from tests.conftest import Clock
from tests.factories import book_first_slot, make_interview, make_world
from tests.workers.conftest import all_done, eventually, mail_rows, outbox_rows
from tests.workers.smtp import SmtpServer

GUEST = "guest@outside.example"


def mails_to(messages: list[EmailMessage], address: str, subject_start: str) -> list[EmailMessage]:
    return [
        m
        for m in messages
        if m["To"] == address and str(m["Subject"]).strip().startswith(subject_start)
    ]


def invite_of(mail: EmailMessage) -> Calendar:
    parts = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, "one inline invite per mail"
    calendar = Calendar.from_ical(parts[0].get_content())
    assert calendar["METHOD"] == parts[0].get_param("method")
    return calendar


def attendees(calendar: Calendar) -> set[str]:
    event = calendar.events[0]
    values = event.get("ATTENDEE")
    values = values if isinstance(values, list) else [values]
    return {str(v).removeprefix("mailto:") for v in values}


async def test_booking_and_cancellation_invites_arrive_and_parse(
    session: AsyncSession,
    engine: AsyncEngine,
    worker_settings: Settings,
    clock: Clock,
    background: Background,
    smtp: SmtpServer,
) -> None:
    await begin_write(session)
    world = await make_world(session)
    side = world.a
    await begin_write(session)
    interview = await make_interview(
        session, worker_settings, side, clock.now, invite_emails=[GUEST]
    )
    await begin_write(session)
    booked = await book_first_slot(session, worker_settings, side, interview, clock.now)
    background.wake()  # what the API's unit of work does after a commit
    await eventually(all_done(engine), what="every outbox row delivered")

    messages = smtp.handler.messages()
    rows = mail_rows(await outbox_rows(engine))
    assert Counter(str(m["Message-ID"]).strip() for m in messages) == Counter(
        f"<{r.id.hex}.outbox@roundtable.example.com>" for r in rows
    ), "each outbox row arrives once, under a Message-ID derived from its id"

    [to_candidate] = mails_to(messages, side.candidate.email, "Interview booked")
    calendar = invite_of(to_candidate)
    event = calendar.events[0]
    assert calendar["METHOD"] == "REQUEST"
    assert event["UID"] == interview_uid(interview.id)
    assert int(event["SEQUENCE"]) == 0
    assert event.DTSTART.astimezone(UTC) == booked.booked_start
    assert event.DTEND.astimezone(UTC) == booked.booked_end
    # Instants in UTC (no local time a reader could misread); the text gives local times.
    assert event.DTSTART.utcoffset() == timedelta(0) and not calendar.timezones
    assert attendees(calendar) == {side.candidate.email, side.member.email, GUEST}
    assert str(event["ORGANIZER"]).removeprefix("mailto:") == side.member.email
    assert booked.conference_url is not None
    assert booked.conference_url in str(event["LOCATION"])
    text = to_candidate.get_body(("plain",))
    html = to_candidate.get_body(("html",))
    assert text is not None and html is not None
    # 14:00 UTC on 5 March is 19:30 in Kolkata and 09:00 in New York.
    assert "19:30 (Asia/Kolkata" in text.get_content()
    assert "19:30 (Asia/Kolkata" in html.get_content()

    [to_guest] = mails_to(messages, GUEST, "Interview booked")
    assert "09:00 (America/New_York" in to_guest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert invite_of(to_guest).events[0].DTSTART.astimezone(UTC) == booked.booked_start
    [to_manager] = mails_to(messages, side.manager.email, "Interview booked")
    assert not [p for p in to_manager.walk() if p.get_content_type() == "text/calendar"]

    await begin_write(session)
    await requests.cancel_interview(
        session=session,
        viewer=await load_viewer(session, side.member),
        interview_id=interview.id,
        reason="the role was filled",
        now=clock.now,
    )
    await session.commit()
    background.wake()
    await eventually(all_done(engine), what="the cancellation delivered")
    messages = smtp.handler.messages()
    [cancel] = mails_to(
        messages, side.candidate.email, f"{side.organization.name} cancelled your interview"
    )
    calendar = invite_of(cancel)
    event = calendar.events[0]
    assert calendar["METHOD"] == "CANCEL"
    assert event["UID"] == interview_uid(interview.id), "the same event, removed"
    assert int(event["SEQUENCE"]) == 1, "higher than the booking's"
    assert event["STATUS"] == "CANCELLED"
    assert event.DTSTART.astimezone(UTC) == booked.booked_start
    assert "Reason given: the role was filled" in cancel.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    [guest_cancel] = mails_to(messages, GUEST, f"{side.member.name} cancelled the interview")
    assert invite_of(guest_cancel)["METHOD"] == "CANCEL"


async def test_smtp_4xx_then_recovery_delivers_once_later(
    session: AsyncSession,
    engine: AsyncEngine,
    worker_settings: Settings,
    clock: Clock,
    background: Background,
    smtp: SmtpServer,
) -> None:
    smtp.handler.scripted.extend(["451 4.3.0 mailbox busy", "421 4.3.2 going down"])
    await begin_write(session)
    world = await make_world(session)
    await begin_write(session)
    await make_interview(session, worker_settings, world.a, clock.now)
    background.wake()
    await eventually(all_done(engine), what="every mail delivered after the 4xx replies")

    rows = await outbox_rows(engine)
    assert smtp.handler.data_calls == len(rows) + 2, "two refused tries, then each once"
    assert sorted(smtp.handler.message_ids().values()) == [1] * len(rows), "no duplicate"
    assert sum(r.attempts for r in rows) == len(rows) + 2
    assert all(r.processed_at is not None for r in rows)


async def test_permanent_rejection_is_failed_without_retry(
    session: AsyncSession,
    engine: AsyncEngine,
    worker_settings: Settings,
    clock: Clock,
    background: Background,
    smtp: SmtpServer,
) -> None:
    await begin_write(session)
    world = await make_world(session)
    smtp.handler.rejected_rcpt.add(world.a.candidate.email)
    await begin_write(session)
    await make_interview(session, worker_settings, world.a, clock.now)
    background.wake()

    async def settled() -> bool:
        rows = await outbox_rows(engine)
        return bool(rows) and all(r.status is not OutboxStatus.PENDING for r in rows)

    await eventually(settled, what="every row settled")
    rows = await outbox_rows(engine)
    [failed] = [r for r in rows if r.status is OutboxStatus.FAILED]
    assert failed.payload["to"] == world.a.candidate.email
    assert failed.attempts == 1, "a 5xx is not retried"
    assert failed.last_error is not None and "550" in failed.last_error
    assert {r.status for r in rows if r is not failed} == {OutboxStatus.DONE}
