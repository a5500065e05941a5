"""What each mail says: the reader's own time zone, the booking link, text and HTML parts."""

from __future__ import annotations

import re
import uuid
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import begin_write
from app.links.tokens import read_link
from app.models import LinkGrant, LinkScope, OutboxMessage, Project
from app.notifications.delivery import MailDirTransport, SmtpTransport
from app.notifications.facts import MailIntent, load_interview_facts
from app.notifications.kinds import MessageKind
from app.notifications.mail import render_mail
from app.outbox.errors import PermanentDeliveryError, TransientDeliveryError
from tests.conftest import Clock
from tests.factories import make_interview, make_world
from tests.workers.smtp import SmtpServer, free_port

GUEST = "guest@outside.example"


async def rendered(
    session: AsyncSession, settings: Settings, kind: MessageKind, to: str
) -> EmailMessage:
    rows = list(await session.scalars(select(OutboxMessage)))
    [row] = [r for r in rows if r.payload["kind"] == kind.value and r.payload["to"] == to]
    intent = MailIntent.from_payload(row.id, row.created_at, row.payload)
    assert intent.interview_id is not None
    facts = await load_interview_facts(session, intent.interview_id)
    return render_mail(intent, facts, settings, recipient_name="Reader")


def text_and_html(mail: EmailMessage) -> tuple[str, str]:
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


async def test_request_mail_gives_the_candidate_a_link_and_times_in_their_zone(
    session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    settings = settings.model_copy(update={"public_url": "https://jobs.example.com"})
    await begin_write(session)
    world = await make_world(session)
    await begin_write(session)
    interview = await make_interview(session, settings, world.a, clock.now, invite_emails=[GUEST])
    mail = await rendered(
        session, settings, MessageKind.INTERVIEW_REQUESTED, world.a.candidate.email
    )
    text, html = text_and_html(mail)
    match = re.search(r"Select an interview time: (https://jobs\.example\.com/links/(\S+))", text)
    assert match, text
    link, token = match.groups()
    assert f'<a href="{link}">Select an interview time</a>' in html
    # The token names a candidate grant for this interview, and the candidate only.
    signed = read_link(secret_key=settings.secret_key, token=token)
    grant = await session.get(LinkGrant, signed.grant_id)
    assert grant is not None
    assert (grant.interview_id, grant.user_id, grant.scope) == (
        interview.id,
        world.a.candidate.id,
        LinkScope.CANDIDATE,
    )
    # Windows 09:00-11:00 and 14:00-15:00 in New York on 5 March: 19:30 and 00:30 in Kolkata.
    assert "Thu 05 Mar 2026 19:30 (Asia/Kolkata, UTC+0530) to 21:30" in text
    assert "Fri 06 Mar 2026 00:30 (Asia/Kolkata, UTC+0530) to 01:30" in text
    assert "America/New_York" not in text, "never the team's zone to the candidate"
    assert not [p for p in mail.walk() if p.get_content_type() == "text/calendar"]

    invitee = await rendered(session, settings, MessageKind.ADDED_TO_INTERVIEW, GUEST)
    invitee_text, _ = text_and_html(invitee)
    assert "Thu 05 Mar 2026 09:00 (America/New_York, UTC-0500) to 11:00" in invitee_text
    assert "Select an interview time" not in invitee_text, "only the candidate selects a time"
    view = re.search(r"View the interview: https://jobs\.example\.com/links/(\S+)", invitee_text)
    assert view, invitee_text
    signed = read_link(secret_key=settings.secret_key, token=view.group(1))
    guest_grant = await session.get(LinkGrant, signed.grant_id)
    assert guest_grant is not None
    assert (guest_grant.email, guest_grant.user_id, guest_grant.scope) == (
        GUEST,
        None,
        LinkScope.VIEWER,
    )


async def test_what_people_typed_is_escaped_in_html_and_kept_out_of_headers(
    session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    await begin_write(session)
    world = await make_world(session)
    await begin_write(session)
    await session.execute(
        update(Project)
        .where(Project.id == world.a.project.id)
        .values(title="<script>x</script>\r\nBcc: victim@example.com")
    )
    await make_interview(session, settings, world.a, clock.now)
    mail = await rendered(session, settings, MessageKind.REQUEST_SENT, world.a.manager.email)
    _, html = text_and_html(mail)
    assert "<script>" not in html
    assert mail["Bcc"] is None, "a title cannot add headers"
    assert "&lt;script&gt;" in html


def mail_to(address: str, message_id: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Roundtable <interviews@roundtable.example.com>"
    mail["To"] = address
    mail["Subject"] = "hello"
    mail["Message-ID"] = message_id
    mail.set_content("hi")
    return mail


async def test_mail_dir_writes_one_file_per_message_id(tmp_path: Path) -> None:
    transport = MailDirTransport(tmp_path / "mail")
    message_id = f"<{uuid.uuid4().hex}.outbox@roundtable.example.com>"
    await transport.send(mail_to("a@example.com", message_id))
    await transport.send(mail_to("a@example.com", message_id))  # a repeated delivery
    [file] = list((tmp_path / "mail").iterdir())
    assert file.suffix == ".eml"
    parsed = BytesParser(policy=policy.default).parsebytes(file.read_bytes())
    assert str(parsed["Message-ID"]).strip() == message_id


async def test_smtp_errors_are_sorted_into_transient_and_permanent() -> None:
    with SmtpServer() as server:
        transport = SmtpTransport.from_url(server.url)
        server.handler.scripted.append("452 4.2.2 mailbox full")
        with pytest.raises(TransientDeliveryError, match="452"):
            await transport.send(mail_to("a@example.com", "<1@x>"))
        server.handler.rejected_rcpt.add("gone@example.com")
        with pytest.raises(PermanentDeliveryError, match="550"):
            await transport.send(mail_to("gone@example.com", "<2@x>"))
        server.handler.scripted.append("554 5.7.1 rejected as spam")
        with pytest.raises(PermanentDeliveryError, match="554"):
            await transport.send(mail_to("a@example.com", "<3@x>"))
        await transport.send(mail_to("a@example.com", "<4@x>"))
        assert list(server.handler.message_ids()) == ["<4@x>"]
    closed = SmtpTransport.from_url(f"smtp://127.0.0.1:{free_port()}")
    with pytest.raises(TransientDeliveryError, match="unreachable"):
        await closed.send(mail_to("a@example.com", "<5@x>"))


def test_smtp_url_carries_credentials_and_tls() -> None:
    plain = SmtpTransport.from_url("smtp://mail.example.com:2525?starttls=true")
    assert (plain.host, plain.port, plain.starttls, plain.use_tls) == (
        "mail.example.com",
        2525,
        True,
        False,
    )
    tls = SmtpTransport.from_url("smtps://user%40x:p%2Fw@mail.example.com")
    assert (tls.port, tls.use_tls, tls.username, tls.password) == (465, True, "user@x", "p/w")


async def test_a_mail_refused_for_some_recipients_fails_without_a_retry() -> None:
    """Resending would duplicate it for those who took it: a permanent failure, named."""
    with SmtpServer() as server:
        transport = SmtpTransport.from_url(server.url)
        server.handler.rejected_rcpt.add("gone@example.com")
        mail = mail_to("a@example.com", "<6@x>")
        mail["Cc"] = "gone@example.com"
        with pytest.raises(PermanentDeliveryError, match=r"gone@example\.com"):
            await transport.send(mail)
        [received] = server.handler.received
        assert received.rcpt_tos == ["a@example.com"]
        # Refused for every recipient: the server's 550 is reported, as permanent.
        server.handler.rejected_rcpt.add("b@example.com")
        both = mail_to("b@example.com", "<7@x>")
        both["Cc"] = "gone@example.com"
        with pytest.raises(PermanentDeliveryError, match="550"):
            await transport.send(both)
