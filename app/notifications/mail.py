"""Mails as people read them: per kind, plain text and HTML, times in the reader's zone.

Rendering is a pure function of the mail intent (an outbox row) and the interview's facts,
so a repeated delivery of one row produces the same mail with the same Message-ID.
"""

from __future__ import annotations

import html
import uuid
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

from app.config import Settings
from app.links.grants import link_expiry, signed_url
from app.models import Role
from app.notifications.events import Actor, Event
from app.notifications.facts import InterviewFacts, MailIntent
from app.notifications.ical import InviteDetails, Person, build_invite
from app.notifications.kinds import MessageKind
from app.notifications.wording import Body, Message, compose, span
from app.timezones import zone

__all__ = ["message_id", "render_mail", "span"]


def message_id(intent: MailIntent, settings: Settings) -> str:
    """Derived from the outbox row: every delivery of one row carries the same Message-ID."""
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "roundtable.invalid"
    return f"<{intent.outbox_id.hex}.outbox@{domain}>"


def render_mail(
    intent: MailIntent,
    facts: InterviewFacts | None,
    settings: Settings,
    *,
    recipient_name: str | None = None,
    reader_zone: str | None = None,
    invite_facts: InterviewFacts | None = None,
) -> EmailMessage:
    """The mail of one outbox row, for its reader.

    `reader_zone` is the recipient's zone as it is now (a candidate's chosen zone once they
    chose one); without it, the zone the row was written with. `invite_facts` are those of
    the interview the invite is about when that is another one (a reschedule's old booking).
    """
    tz_name = next((z for z in (reader_zone, intent.time_zone) if z and zone(z) is not None), "UTC")
    link = _signed_link(intent, facts, settings)
    message = Message(
        kind=intent.kind,
        reader_id=intent.user_id,
        reader_email=intent.to,
        time_zone=tz_name,
        facts=facts,
        event=intent.event if intent.event is not None else _queued_before_events(intent, facts),
        link=link,
    )
    body = compose(message) or Body(
        subject=_generic_subject(intent.kind), paragraphs=[intent.message]
    )
    mail = EmailMessage()
    mail["From"] = settings.mail_from
    mail["To"] = intent.to
    # What people typed (names, titles) must not break the header into two.
    mail["Subject"] = " ".join(body.subject.split())
    mail["Date"] = format_datetime(intent.created_at)
    mail["Message-ID"] = message_id(intent, settings)
    mail["Auto-Submitted"] = "auto-generated"
    reply_to = _reply_to(intent, facts)
    if reply_to is not None:
        mail["Reply-To"] = reply_to
    greeting = f"Hello {recipient_name}," if recipient_name else "Hello,"
    mail.set_content(_text(greeting, body))
    mail.add_alternative(_html(greeting, body), subtype="html")
    about = invite_facts if intent.invite_interview_id is not None else facts
    if intent.invite is not None and about is not None and about.booked_start is not None:
        ics = build_invite(_invite_details(intent, about), method=intent.invite)
        # Inline (what mail clients show as an invitation) and as a file to open or import.
        mail.add_alternative(
            ics.decode(), subtype="calendar", params={"method": intent.invite.value}
        )
        mail.add_attachment(ics, maintype="application", subtype="ics", filename="invite.ics")
    return mail


def _queued_before_events(intent: MailIntent, facts: InterviewFacts | None) -> Event | None:
    """Who acted, as well as a row queued before events were kept can tell: the candidate
    books and asks for other times, the requester did the rest, Roundtable reminds."""
    if facts is None or intent.kind in {MessageKind.BOOKING_REMINDER, MessageKind.REMINDER_SENT}:
        return None
    if intent.kind in {MessageKind.INTERVIEW_BOOKED, MessageKind.ALTERNATIVE_TIMES_REQUESTED}:
        person, role = facts.candidate, Role.CANDIDATE
        user_id: uuid.UUID | None = facts.candidate_id
    else:
        person, role, user_id = facts.requester, Role.HIRING_MEMBER, facts.requester_id
    return Event(actor=Actor(name=person.name or person.email, role=role.value, id=user_id))


def _reply_to(intent: MailIntent, facts: InterviewFacts | None) -> str | None:
    """Answers reach the account manager, who looks after everyone in the process; the
    manager's own mails answer to the team member who asked for the interview (calendar
    RSVPs go to the invite's ORGANIZER, that member, whatever this says)."""
    manager: Person | None = facts.manager if facts is not None else None
    if manager is None and intent.event is not None and intent.event.manager_email:
        manager = Person(intent.event.manager_email, intent.event.manager_name)
    if manager is not None and manager.email != intent.to:
        return _address(manager)
    if facts is not None and facts.requester.email != intent.to:
        return _address(facts.requester)
    actor = intent.event.actor if intent.event is not None else None
    if facts is None and actor is not None and actor.email and actor.email != intent.to:
        return _address(Person(actor.email, actor.name))  # a hire: whoever made it
    return None


def _signed_link(
    intent: MailIntent, facts: InterviewFacts | None, settings: Settings
) -> str | None:
    """The mail's own signed link (see app/links), if its row asked for one."""
    if intent.link_grant_id is None or facts is None:
        return None
    return signed_link(settings, intent.link_grant_id, intent.created_at, facts)


def signed_link(
    settings: Settings, grant_id: uuid.UUID, issued_at: datetime, facts: InterviewFacts
) -> str:
    expires_at = link_expiry(issued_at=issued_at, horizon=facts.horizon, settings=settings)
    return signed_url(
        settings, grant_id=grant_id, interview_id=facts.interview_id, expires_at=expires_at
    )


def _address(person: Person) -> str:
    return formataddr((person.name, person.email)) if person.name else person.email


# Kinds whose words are written when they happen (no interview facts to render from).
_SUBJECTS: dict[str, str] = {
    MessageKind.CALENDAR_DISCONNECTED: "Your calendar is no longer connected to Roundtable",
}


def _generic_subject(kind: str) -> str:
    return _SUBJECTS.get(kind) or "Roundtable: " + kind.replace("_", " ").capitalize()


def _invite_details(intent: MailIntent, facts: InterviewFacts) -> InviteDetails:
    assert facts.booked_start is not None and facts.booked_end is not None
    return InviteDetails(
        interview_id=facts.interview_id,
        summary=f"Interview: {facts.candidate.name} ({facts.project_title})",
        description=(
            f"Round {facts.round} of interviews for {facts.project_title}."
            + (f"\nJoin: {facts.conference_url}" if facts.conference_url else "")
        ),
        start=facts.booked_start,
        end=facts.booked_end,
        organizer=facts.requester,
        attendees=facts.attendees,
        conference_url=facts.conference_url,
        # The SEQUENCE the change was made with; later changes carry higher ones.
        sequence=intent.sequence if intent.sequence is not None else facts.ical_sequence,
        stamp=intent.created_at,
    )


def _text(greeting: str, body: Body) -> str:
    lines = [greeting, ""]
    for paragraph in body.paragraphs:
        lines += [paragraph, ""]
    if body.changes:
        lines.append(body.changes_title)
        lines += [f"  - {c}" for c in body.changes]
        lines.append("")
    if body.times:
        lines.append(body.times_title)
        lines += [f"  - {t}" for t in body.times]
        lines.append("")
    for label, url in body.links:
        lines += [f"{label}: {url}", ""]
    lines.append("-- Roundtable")
    return "\n".join(lines) + "\n"


def _html(greeting: str, body: Body) -> str:
    e = html.escape
    parts = [f"<p>{e(greeting)}</p>"]
    parts += [f"<p>{e(p)}</p>" for p in body.paragraphs]
    if body.changes:
        items = "".join(f"<li>{e(c)}</li>" for c in body.changes)
        parts.append(f"<p>{e(body.changes_title)}</p><ul>{items}</ul>")
    if body.times:
        items = "".join(f"<li>{e(t)}</li>" for t in body.times)
        parts.append(f"<p>{e(body.times_title)}</p><ul>{items}</ul>")
    for label, url in body.links:
        parts.append(f'<p><a href="{e(url, quote=True)}">{e(label)}</a></p>')
    parts.append("<p>-- Roundtable</p>")
    return "<!DOCTYPE html><html><body>" + "".join(parts) + "</body></html>\n"
