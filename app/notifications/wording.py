"""What each message says to its reader: one composer for mails and in-app messages.

Written for the person reading: "you" to the person the message is about (never their own
name in the third person), who acted with their role, what changed, and the next step with
its link. Times in the reader's zone. A pure function of the facts, so a retried mail and a
notification read a week later say the same, with the current link and names.
"""

from __future__ import annotations

from collections.abc import Callable

from app.models import Role
from app.notifications.kinds import MessageKind
from app.notifications.text import when
from app.notifications.words import (
    BOOKED_LABEL,
    JOIN_LABEL,
    SELECT_LABEL,
    VIEW_LABEL,
    Body,
    Message,
    ReaderRole,
    add_changes,
    add_offered,
    booking_of,
    candidate_name,
    manager_name,
    organization_of,
    own_link,
    reason_lines,
    round_text,
    span,
    tag,
    who,
)

__all__ = ["Body", "Message", "ReaderRole", "compose", "span"]


# --- one function per kind ---------------------------------------------------------------


def _requested(m: Message) -> Body:
    f = m.facts
    assert f is not None
    body = Body(
        subject=f"{f.organization} invites you to an interview: choose a time ({tag(f)})",
        paragraphs=[
            f"{who(m)} invited you to {round_text(f)} at {f.organization}.",
            f"Next step: choose a {f.duration_minutes}-minute time that suits you. If none "
            f"does, say so on the same page and {manager_name(m)}, your account manager, "
            "will help.",
        ],
        links=own_link(m, SELECT_LABEL),
    )
    add_offered(body, m)
    return body


def _added(m: Message) -> Body:
    f = m.facts
    assert f is not None
    candidate = candidate_name(m)
    if m.reader_acted:
        subject = f"Times sent to {candidate} ({tag(f)})"
        first = f"You offered {candidate} (candidate) these times for {round_text(f)}."
    else:
        subject = f"{m.actor.name} added you to an interview with {candidate} ({tag(f)})"
        first = f"{who(m)} added you to {round_text(f)} with {candidate} (candidate)."
    body = Body(
        subject=subject,
        paragraphs=[
            first,
            f"Next step: {candidate} chooses one of these times; you will receive the "
            "calendar invitation once they have booked.",
        ],
        links=own_link(m, VIEW_LABEL),
    )
    add_offered(body, m)
    return body


def _request_sent(m: Message) -> Body:
    f = m.facts
    assert f is not None
    candidate = candidate_name(m)
    verb = "You" if m.reader_acted else m.actor.name
    body = Body(
        subject=f"{verb} asked {candidate} for an interview ({tag(f)}, {f.organization})",
        paragraphs=[
            f"{who(m)} offered {candidate} (candidate) times for {round_text(f)} at "
            f"{f.organization}.",
            f"Next step: {candidate} chooses a time; you will be told when they book or ask "
            "for other times.",
        ],
        links=own_link(m, VIEW_LABEL),
    )
    add_offered(body, m)
    return body


def _times_updated(m: Message) -> Body:
    f = m.facts
    assert f is not None
    answering = m.event is not None and m.event.answers_alternative
    if m.role is ReaderRole.CANDIDATE:
        because = " in answer to your request for other times" if answering else ""
        body = Body(
            subject=f"New times for your interview with {f.organization}: choose a time ({tag(f)})",
            paragraphs=[
                f"{who(m)} changed the times offered for your interview "
                f"({round_text(f)}){because}.",
                "Next step: choose a time from the times now offered.",
            ],
            links=own_link(m, SELECT_LABEL),
        )
    else:
        candidate = candidate_name(m)
        verb = "You" if m.reader_acted else m.actor.name
        because = f" in answer to {candidate}'s request for other times" if answering else ""
        body = Body(
            subject=f"{verb} changed the interview times for {candidate} ({tag(f)})",
            paragraphs=[
                f"{who(m)} changed the times offered to {candidate} (candidate) for "
                f"{round_text(f)}{because}.",
                f"Next step: {candidate} has been asked to choose among the times now offered.",
            ],
            links=own_link(m, VIEW_LABEL),
        )
    add_changes(body, m)
    add_offered(body, m, "Times now offered")
    return body


def _alternative(m: Message) -> Body:
    f = m.facts
    assert f is not None
    candidate = candidate_name(m)
    paragraphs = [f"{who(m)} found none of the times offered for {round_text(f)} suitable."]
    if f.alternative_message:
        paragraphs.append(f'Their message: "{f.alternative_message}"')
    if m.role is ReaderRole.MANAGER:
        requester = f.requester.name or f.requester.email
        paragraphs.append(
            f"Next step: contact {candidate} to learn which times suit them, and agree new "
            f"times with {requester} of the hiring team, who can offer them."
        )
    else:
        paragraphs.append(
            f"Next step: offer other times by editing the interview's times (Edit times); "
            f"{candidate} will be asked to choose again. {manager_name(m)} (account manager) "
            "has been told too."
        )
    return Body(
        subject=f"{candidate} asked for other interview times ({tag(f)})",
        paragraphs=paragraphs,
        links=own_link(m, VIEW_LABEL),
    )


def _booked(m: Message) -> Body:
    f = m.facts
    assert f is not None
    booking = booking_of(m)
    assert booking is not None
    at = span(*booking, m.time_zone)
    join = [(JOIN_LABEL, f.conference_url)] if f.conference_url else []
    if m.role is ReaderRole.CANDIDATE:
        return Body(
            subject=f"Interview booked with {f.organization}: {when(booking[0], m.time_zone)} "
            f"({tag(f)})",
            paragraphs=[
                f"{who(m)} booked your interview with {f.organization} ({round_text(f)}).",
                f"When: {at}",
                "Next step: join at the time with the link below; the attached invitation adds "
                "it to your calendar. If you can no longer attend, cancel it as soon as "
                "possible with the link below.",
            ],
            links=[*join, *own_link(m, BOOKED_LABEL)],
        )
    candidate = candidate_name(m)
    by_candidate = m.actor.role == Role.CANDIDATE.value
    return Body(
        subject=f"Interview booked: {candidate}, {f.project_title}, "
        f"{when(booking[0], m.time_zone)}",
        paragraphs=[
            f"{who(m)} booked {round_text(f)}" + ("." if by_candidate else f" for {candidate}."),
            f"When: {at}",
            "Next step: join at the time with the link below."
            + (
                ""
                if m.role is ReaderRole.MANAGER
                else " The calendar invitation is attached or in your connected calendar."
            ),
        ],
        links=[*join, *own_link(m, VIEW_LABEL)],
    )


def _cancelled(m: Message) -> Body:
    f = m.facts
    assert f is not None
    booking = booking_of(m)
    what = (
        f"the interview of {span(*booking, m.time_zone)}"
        if booking is not None
        else "the interview times offered"
    )
    candidate = candidate_name(m)
    actor_is_candidate = m.actor.role == Role.CANDIDATE.value
    manager = manager_name(m)
    if m.role is ReaderRole.CANDIDATE:
        your = what.replace("the interview", "your interview", 1)
        if m.reader_acted:
            subject = f"You cancelled your interview with {f.organization} ({tag(f)})"
            nxt = (
                f"Next step: the hiring team and {manager}, your account manager, were told; "
                f"{manager} will contact you to find another time. You can also reply to "
                "this mail."
            )
        else:
            subject = f"{f.organization} cancelled your interview ({tag(f)})"
            nxt = (
                f"Next step: nothing is needed from you. If {f.organization} wants to meet you "
                f"again you will receive new times; to ask {manager}, your account manager, "
                "reply to this mail."
            )
        paragraphs = [f"{who(m)} cancelled {your} ({round_text(f)}).", *reason_lines(m), nxt]
        return Body(subject=subject, paragraphs=paragraphs)
    verb = "You" if m.reader_acted else m.actor.name
    if actor_is_candidate:
        subject = f"{candidate} cancelled their interview ({tag(f)})"
        paragraphs = [f"{who(m)} cancelled {what} ({round_text(f)}).", *reason_lines(m)]
    else:
        subject = f"{verb} cancelled the interview with {candidate} ({tag(f)})"
        paragraphs = [
            f"{who(m)} cancelled {what} with {candidate} ({round_text(f)}).",
            *reason_lines(m),
        ]
    if m.role is ReaderRole.MANAGER:
        paragraphs.append(
            f"Next step: contact {candidate} to find another time, and ask the hiring team "
            "for new times."
            if actor_is_candidate
            else f"Next step: none unless the hiring team asks you; {candidate} was told."
        )
    elif m.role is ReaderRole.INVITEE:
        paragraphs.append(
            "Next step: none; the attached cancellation removes it from your calendar."
        )
    else:
        paragraphs.append(
            f"Next step: to meet {candidate} again, schedule a new interview from their "
            f"proposal (Schedule Interview); {manager} (account manager) was told"
            + (
                f" and will contact {candidate} to find another time."
                if actor_is_candidate
                else "."
            )
        )
    return Body(subject=subject, paragraphs=paragraphs)


def _rescheduled(m: Message) -> Body:
    f = m.facts
    assert f is not None
    old = m.event.cancelled_booking if m.event else None
    old_text = span(*old, m.time_zone) if old is not None else "earlier"
    old_short = when(old[0], m.time_zone) if old is not None else "earlier"
    if m.role is ReaderRole.CANDIDATE:
        body = Body(
            subject=f"New times offered: your interview of {old_short} is cancelled ({tag(f)})",
            paragraphs=[
                f"{who(m)} needs to move your interview with {f.organization}: your "
                f"interview of {old_text} is cancelled, and new times are offered for "
                f"{round_text(f)}.",
                *reason_lines(m),
                "Next step: choose one of the new times. The attached cancellation removes "
                "the old time from your calendar.",
            ],
            links=own_link(m, SELECT_LABEL),
        )
    else:
        candidate = candidate_name(m)
        verb = "You" if m.reader_acted else m.actor.name
        body = Body(
            subject=f"{verb} rescheduled the interview with {candidate} ({tag(f)})",
            paragraphs=[
                f"{who(m)} rescheduled {round_text(f)} with {candidate}: the interview of "
                f"{old_text} is cancelled and new times are offered.",
                *reason_lines(m),
                f"Next step: {candidate} chooses one of the new times; "
                + (
                    "you will be told when they book."
                    if m.role is ReaderRole.MANAGER
                    else "you will receive a new invitation then."
                ),
            ],
            links=own_link(m, VIEW_LABEL),
        )
    add_offered(body, m, "New times offered")
    return body


def _hired(m: Message) -> Body:
    e = m.event
    assert e is not None
    candidate, organization = candidate_name(m), organization_of(m)
    project = (m.facts.project_title if m.facts else None) or e.project_title or ""
    manager = manager_name(m)
    tz = m.time_zone
    if m.role is ReaderRole.CANDIDATE:
        paragraphs = [
            f"Good news: {organization} would like to hire you for {project}. {who(m)} told us.",
            f"Next step: {manager}, your account manager, will contact you about the offer; "
            "reply to this mail to reach them sooner.",
        ]
        if e.kept_booking is not None:
            paragraphs.append(f"Your interview of {span(*e.kept_booking, tz)} stays as planned.")
        if e.cancelled_booking is not None:
            paragraphs.append(
                f"Your interview of {span(*e.cancelled_booking, tz)} is no longer needed; the "
                "attached update takes it out of your calendar."
            )
        if e.withdrawn_requests:
            paragraphs.append("There is no interview left for you to book.")
        return Body(subject=f"Offer from {organization}: {project}", paragraphs=paragraphs)
    verb = "You" if m.reader_acted else m.actor.name
    paragraphs = [f"{who(m)} hired {candidate} for {project} at {organization}."]
    if e.cancelled_booking is not None:
        paragraphs.append(
            f"The booked interview of {span(*e.cancelled_booking, tz)} was cancelled, as "
            f"asked; {candidate} was told it is no longer needed."
        )
    if e.kept_booking is not None:
        paragraphs.append(
            f"The booked interview of {span(*e.kept_booking, tz)} still takes place; cancel "
            "it if it is no longer needed."
        )
    if e.withdrawn_requests:
        paragraphs.append(f"Interview requests still open ({e.withdrawn_requests}) were withdrawn.")
    if m.role is ReaderRole.MANAGER:
        paragraphs.append(f"Next step: contact {candidate} about the offer.")
    elif m.role is ReaderRole.INVITEE:
        paragraphs.append("Next step: none for you.")
    else:
        paragraphs.append(
            f"Next step: {manager} (account manager) takes the offer forward with {candidate}."
        )
    return Body(subject=f"{verb} hired {candidate} for {project}", paragraphs=paragraphs)


def _reminder(m: Message) -> Body:
    f = m.facts
    assert f is not None
    body = Body(
        subject=f"Reminder: choose a time for your interview with {f.organization} ({tag(f)})",
        paragraphs=[
            f"{f.organization}'s hiring team is still waiting for you to choose a time for "
            f"{round_text(f)}. (An automatic reminder from Roundtable.)",
            f"Next step: choose a time; if none suits you, say so on the same page and "
            f"{manager_name(m)}, your account manager, will help.",
        ],
        links=own_link(m, SELECT_LABEL),
    )
    add_offered(body, m)
    return body


def _reminder_sent(m: Message) -> Body:
    f = m.facts
    assert f is not None
    candidate = candidate_name(m)
    return Body(
        subject=f"{candidate} has not booked yet and was reminded ({tag(f)})",
        paragraphs=[
            f"Roundtable (automatic) reminded {candidate} (candidate), who has not chosen a "
            f"time for {round_text(f)} since it was requested.",
            f"Next step: follow up with {candidate} if they need help choosing.",
        ],
        links=own_link(m, VIEW_LABEL),
    )


_COMPOSERS: dict[str, Callable[[Message], Body]] = {
    MessageKind.INTERVIEW_REQUESTED: _requested,
    MessageKind.ADDED_TO_INTERVIEW: _added,
    MessageKind.REQUEST_SENT: _request_sent,
    MessageKind.TIMES_UPDATED: _times_updated,
    MessageKind.ALTERNATIVE_TIMES_REQUESTED: _alternative,
    MessageKind.INTERVIEW_BOOKED: _booked,
    MessageKind.INTERVIEW_CANCELLED: _cancelled,
    MessageKind.INTERVIEW_RESCHEDULED: _rescheduled,
    MessageKind.CANDIDATE_HIRED: _hired,
    MessageKind.BOOKING_REMINDER: _reminder,
    MessageKind.REMINDER_SENT: _reminder_sent,
}
# Kinds about a proposal: composed from the stored event alone.
WITHOUT_INTERVIEW = frozenset({MessageKind.CANDIDATE_HIRED})


def compose(m: Message) -> Body | None:
    """The message for its reader, or None when the facts to write it are missing."""
    composer = _COMPOSERS.get(m.kind)
    if composer is None:
        return None
    if m.facts is None and (m.kind not in WITHOUT_INTERVIEW or m.event is None):
        return None
    if m.kind == MessageKind.INTERVIEW_BOOKED and booking_of(m) is None:
        return None
    return composer(m)
