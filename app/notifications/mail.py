"""Mails as people read them: per kind, plain text and HTML, times in the reader's zone.

Rendering is a pure function of the mail intent (an outbox row) and the interview's facts,
so a repeated delivery of one row produces the same mail with the same Message-ID.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from zoneinfo import ZoneInfo

from app.config import Settings
from app.links.grants import link_expiry, signed_url
from app.notifications.facts import InterviewFacts, MailIntent
from app.notifications.ical import InviteDetails, Person, build_invite
from app.notifications.kinds import MessageKind
from app.notifications.text import when
from app.timezones import zone


@dataclass
class Body:
    subject: str
    paragraphs: list[str] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    times_title: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, url)


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
) -> EmailMessage:
    tz_name = intent.time_zone if zone(intent.time_zone) is not None else "UTC"
    body = _body(intent, facts, settings, tz_name)
    mail = EmailMessage()
    mail["From"] = settings.mail_from
    mail["To"] = intent.to
    # What people typed (names, titles) must not break the header into two.
    mail["Subject"] = " ".join(body.subject.split())
    mail["Date"] = format_datetime(intent.created_at)
    mail["Message-ID"] = message_id(intent, settings)
    mail["Auto-Submitted"] = "auto-generated"
    if facts is not None and facts.requester.email != intent.to:
        # A person's answer reaches the team member who asked for the interview, not a
        # mailbox nobody reads (calendar RSVPs go to the invite's ORGANIZER, the same person).
        mail["Reply-To"] = _address(facts.requester)
    greeting = f"Hello {recipient_name}," if recipient_name else "Hello,"
    mail.set_content(_text(greeting, body))
    mail.add_alternative(_html(greeting, body), subtype="html")
    if intent.invite is not None and facts is not None and facts.booked_start is not None:
        ics = build_invite(_invite_details(intent, facts), method=intent.invite)
        # Inline (what mail clients show as an invitation) and as a file to open or import.
        mail.add_alternative(
            ics.decode(), subtype="calendar", params={"method": intent.invite.value}
        )
        mail.add_attachment(ics, maintype="application", subtype="ics", filename="invite.ics")
    return mail


def span(start: datetime, end: datetime, tz_name: str) -> str:
    tz = ZoneInfo(tz_name)
    local_end = end.astimezone(tz)
    if local_end.utcoffset() == start.astimezone(tz).utcoffset():
        return f"{when(start, tz_name)} to {local_end:%H:%M}"
    # The clocks change during the slot ("01:30 to 01:00" alone would read as negative).
    return f"{when(start, tz_name)} to {local_end:%H:%M} (UTC{local_end:%z})"


def _address(person: Person) -> str:
    return formataddr((person.name, person.email)) if person.name else person.email


def _body(intent: MailIntent, facts: InterviewFacts | None, settings: Settings, tz: str) -> Body:
    if facts is None:
        return Body(subject=_generic_subject(intent.kind), paragraphs=[intent.message])
    render = _RENDERERS.get(intent.kind)
    if render is None:
        return Body(subject=_generic_subject(intent.kind), paragraphs=[intent.message])
    return render(intent, facts, settings, tz)


def _generic_subject(kind: str) -> str:
    return "Roundtable: " + kind.replace("_", " ").capitalize()


def _what(facts: InterviewFacts) -> str:
    return f"round {facts.round} of interviews for {facts.project_title}"


def _offered(body: Body, facts: InterviewFacts, tz: str) -> Body:
    body.times_title = f"Times offered, in your time zone ({tz}):"
    body.times = [span(start, end, tz) for start, end in facts.windows]
    return body


def _is_candidate(intent: MailIntent, facts: InterviewFacts) -> bool:
    return intent.user_id == facts.candidate_id or intent.to == facts.candidate.email


SELECT_LABEL = "Select an interview time"
VIEW_LABEL = "View the interview"
BOOKED_LABEL = "View or cancel your interview"
JOIN_LABEL = "Join the interview"


def _access_link(
    intent: MailIntent, facts: InterviewFacts, settings: Settings, label: str
) -> list[tuple[str, str]]:
    """The mail's own signed link (see app/links), if its row asked for one."""
    if intent.link_grant_id is None:
        return []
    expires_at = link_expiry(issued_at=intent.created_at, horizon=facts.horizon, settings=settings)
    url = signed_url(
        settings,
        grant_id=intent.link_grant_id,
        interview_id=facts.interview_id,
        expires_at=expires_at,
    )
    return [(label, url)]


def _select_link(i: MailIntent, f: InterviewFacts, s: Settings) -> list[tuple[str, str]]:
    return _access_link(i, f, s, SELECT_LABEL)


def _view_link(i: MailIntent, f: InterviewFacts, s: Settings) -> list[tuple[str, str]]:
    return _access_link(i, f, s, VIEW_LABEL)


def _requested(i: MailIntent, f: InterviewFacts, s: Settings, tz: str) -> Body:
    body = Body(
        subject=f"Select a time for your interview: {f.project_title}",
        paragraphs=[
            f"{f.requester.name} and the hiring team would like to interview you ({_what(f)})."
        ],
        links=_select_link(i, f, s),
    )
    return _offered(body, f, tz)


def _added(i: MailIntent, f: InterviewFacts, s: Settings, tz: str) -> Body:
    body = Body(
        subject=f"You were added to an interview with {f.candidate.name}",
        paragraphs=[
            f"{f.requester.name} added you to {_what(f)} with {f.candidate.name}.",
            "The candidate chooses one of these times; you will receive an invitation then.",
        ],
        links=_view_link(i, f, s),
    )
    return _offered(body, f, tz)


def _request_sent(i: MailIntent, f: InterviewFacts, s: Settings, tz: str) -> Body:
    body = Body(
        subject=f"Interview times sent to {f.candidate.name} ({f.project_title})",
        paragraphs=[f"{f.requester.name} sent {_what(f)} to {f.candidate.name}."],
        links=_view_link(i, f, s),
    )
    return _offered(body, f, tz)


def _times_updated(i: MailIntent, f: InterviewFacts, s: Settings, tz: str) -> Body:
    body = Body(
        subject=f"New interview times: {f.project_title}",
        paragraphs=[f"The hiring team changed the times offered for {_what(f)}."],
    )
    body.links = _select_link(i, f, s) if _is_candidate(i, f) else _view_link(i, f, s)
    return _offered(body, f, tz)


def _booked(i: MailIntent, f: InterviewFacts, s: Settings, tz: str) -> Body:
    assert f.booked_start is not None and f.booked_end is not None
    return Body(
        subject=f"Interview booked: {f.candidate.name}, {f.project_title}, "
        f"{when(f.booked_start, tz)}",
        paragraphs=[
            f"{f.candidate.name} booked {_what(f)}.",
            f"When: {span(f.booked_start, f.booked_end, tz)}",
        ],
        links=[
            *([(JOIN_LABEL, f.conference_url)] if f.conference_url else []),
            *_access_link(i, f, s, BOOKED_LABEL if _is_candidate(i, f) else VIEW_LABEL),
        ],
    )


def _moved(i: MailIntent, f: InterviewFacts, s: Settings, tz: str) -> Body:
    assert f.booked_start is not None and f.booked_end is not None
    paragraphs = [f"The interview with {f.candidate.name} ({_what(f)}) has a new time."]
    if i.previous_start and i.previous_end:
        before = span(
            datetime.fromisoformat(i.previous_start), datetime.fromisoformat(i.previous_end), tz
        )
        paragraphs.append(f"Before: {before}")
    paragraphs.append(f"Now: {span(f.booked_start, f.booked_end, tz)}")
    return Body(
        subject=f"Interview moved: {f.candidate.name}, {f.project_title}, "
        f"{when(f.booked_start, tz)}",
        paragraphs=paragraphs,
        links=[
            *([(JOIN_LABEL, f.conference_url)] if f.conference_url else []),
            *_access_link(i, f, s, BOOKED_LABEL if _is_candidate(i, f) else VIEW_LABEL),
        ],
    )


def _alternative(i: MailIntent, f: InterviewFacts, s: Settings, tz: str) -> Body:
    paragraphs = [f"{f.candidate.name} did not find a suitable time for {_what(f)}."]
    if f.alternative_message:
        paragraphs.append(f'Their message: "{f.alternative_message}"')
    paragraphs.append("Offer other times by editing the interview's availability.")
    return Body(
        subject=f"{f.candidate.name} asked for other interview times",
        paragraphs=paragraphs,
        links=_view_link(i, f, s),
    )


def _cancelled(i: MailIntent, f: InterviewFacts, s: Settings, tz: str) -> Body:
    what = _what(f)
    if f.booked_start is not None and f.booked_end is not None:
        what += f", {span(f.booked_start, f.booked_end, tz)}"
    paragraphs = [f"The interview with {f.candidate.name} was cancelled ({what})."]
    if f.cancel_reason:
        paragraphs.append(f"Reason: {f.cancel_reason}")
    return Body(subject=f"Interview cancelled: {f.project_title}", paragraphs=paragraphs)


def _reminder(i: MailIntent, f: InterviewFacts, s: Settings, tz: str) -> Body:
    body = Body(
        subject=f"Reminder: select a time for your interview ({f.project_title})",
        paragraphs=[f"The hiring team is waiting for you to choose a time for {_what(f)}."],
        links=_select_link(i, f, s),
    )
    return _offered(body, f, tz)


def _reminder_sent(i: MailIntent, f: InterviewFacts, s: Settings, tz: str) -> Body:
    return Body(
        subject=f"{f.candidate.name} was reminded to book an interview",
        paragraphs=[
            f"{f.candidate.name} has not chosen a time for {_what(f)} yet and was reminded.",
        ],
        links=_view_link(i, f, s),
    )


_Renderer = Callable[[MailIntent, InterviewFacts, Settings, str], Body]
_RENDERERS: dict[str, _Renderer] = {
    MessageKind.INTERVIEW_REQUESTED: _requested,
    MessageKind.ADDED_TO_INTERVIEW: _added,
    MessageKind.REQUEST_SENT: _request_sent,
    MessageKind.TIMES_UPDATED: _times_updated,
    MessageKind.INTERVIEW_BOOKED: _booked,
    MessageKind.INTERVIEW_MOVED: _moved,
    MessageKind.ALTERNATIVE_TIMES_REQUESTED: _alternative,
    MessageKind.INTERVIEW_CANCELLED: _cancelled,
    MessageKind.BOOKING_REMINDER: _reminder,
    MessageKind.REMINDER_SENT: _reminder_sent,
}


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
    if body.times:
        items = "".join(f"<li>{e(t)}</li>" for t in body.times)
        parts.append(f"<p>{e(body.times_title)}</p><ul>{items}</ul>")
    for label, url in body.links:
        parts.append(f'<p><a href="{e(url, quote=True)}">{e(label)}</a></p>')
    parts.append("<p>-- Roundtable</p>")
    return "<!DOCTYPE html><html><body>" + "".join(parts) + "</body></html>\n"
