"""Record what must be told to whom, in the transaction of the change that causes it.

Each in-app notification is a row the recipient sees at once; each mail is an outbox row
that the background workers deliver after commit (at least once, idempotently).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.links.grants import add_grant
from app.models import Interview, Notification, User
from app.notifications.events import Event, system_actor, to_json
from app.notifications.kinds import InviteMethod, MessageKind
from app.outbox.enqueue import enqueue
from app.outbox.topics import MAIL_TOPIC


@dataclass(frozen=True)
class Recipient:
    """Someone to tell: a user (in-app and mail) or an invitee known only by email."""

    email: str
    time_zone: str
    user: User | None = None
    invite: InviteMethod | None = None


def tell(
    session: AsyncSession,
    *,
    recipients: Iterable[Recipient],
    kind: MessageKind,
    interview: Interview | None,
    message: str,
    event: Event | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """One notification (for users) and one mail (for everyone) per distinct address.

    `event` is who acted and what changed, kept with both so their words are written for
    each reader when read (app.notifications.wording); `message` is the plain fallback.
    """
    facts = to_json(event if event is not None else Event(actor=system_actor()))
    seen: set[str] = set()
    for recipient in recipients:
        if recipient.email in seen:
            continue
        seen.add(recipient.email)
        grant = (
            add_grant(
                session, kind=kind, interview=interview, email=recipient.email, user=recipient.user
            )
            if interview is not None
            else None
        )
        mail = enqueue(
            session,
            topic=MAIL_TOPIC,
            payload={
                "kind": kind.value,
                "to": recipient.email,
                "user_id": str(recipient.user.id) if recipient.user else None,
                "time_zone": recipient.time_zone,
                "interview_id": str(interview.id) if interview else None,
                "invite": recipient.invite.value if recipient.invite else None,
                "sequence": interview.ical_sequence if interview else None,
                "message": message,
                # The mail's link is signed from this grant when the mail is rendered.
                "link_grant_id": str(grant.id) if grant else None,
                "event": facts,
                **(extra or {}),
            },
        )
        if recipient.user is not None:
            session.add(
                Notification(
                    user_id=recipient.user.id,
                    interview_id=interview.id if interview else None,
                    kind=kind.value,
                    message=message,
                    facts={**facts, "link_grant_id": str(grant.id) if grant else None},
                    email_outbox=mail,
                )
            )


def user_recipient(user: User, invite: InviteMethod | None = None) -> Recipient:
    return Recipient(email=user.email, time_zone=user.time_zone, user=user, invite=invite)
