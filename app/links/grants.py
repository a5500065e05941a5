"""Which mails carry a link, for whom with which scope; revoking; when a link expires.

A grant is written in the transaction of the change that sends the mail (with the outbox
row), so a later cancellation or new round always finds it to revoke.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.links.tokens import sign_link
from app.models import Interview, InterviewStatus, LinkGrant, LinkScope, Role, User
from app.notifications.kinds import MessageKind


class RevokedBecause(enum.StrEnum):
    CANCELLED = "CANCELLED"
    RESCHEDULED = "RESCHEDULED"
    HIRED = "HIRED"
    NEW_ROUND = "NEW_ROUND"


# Mails that ask the candidate to act: choose, or look at and maybe cancel a booking.
CANDIDATE_LINK_KINDS = frozenset(
    {
        MessageKind.INTERVIEW_REQUESTED,
        MessageKind.INTERVIEW_RESCHEDULED,
        MessageKind.TIMES_UPDATED,
        MessageKind.BOOKING_REMINDER,
        MessageKind.INTERVIEW_BOOKED,
    }
)
# Mails that ask the team or the account manager to look. A cancellation asks nothing: its
# link would be revoked in the very transaction that writes it.
VIEW_LINK_KINDS = frozenset(
    {
        MessageKind.ADDED_TO_INTERVIEW,
        MessageKind.REQUEST_SENT,
        MessageKind.INTERVIEW_RESCHEDULED,
        MessageKind.TIMES_UPDATED,
        MessageKind.INTERVIEW_BOOKED,
        MessageKind.ALTERNATIVE_TIMES_REQUESTED,
        MessageKind.REMINDER_SENT,
    }
)


def scope_for(kind: str, user: User | None) -> LinkScope | None:
    if user is not None and user.role is Role.CANDIDATE:
        return LinkScope.CANDIDATE if kind in CANDIDATE_LINK_KINDS else None
    return LinkScope.VIEWER if kind in VIEW_LINK_KINDS else None


def add_grant(
    session: AsyncSession,
    *,
    kind: str,
    interview: Interview,
    email: str,
    user: User | None,
) -> LinkGrant | None:
    scope = scope_for(kind, user)
    if scope is None:
        return None
    grant = LinkGrant(
        id=uuid.uuid4(),
        interview_id=interview.id,
        user_id=user.id if user else None,
        email=email,
        scope=scope,
    )
    session.add(grant)
    return grant


async def revoke_links(
    session: AsyncSession,
    *,
    interview_ids: Iterable[uuid.UUID],
    because: RevokedBecause,
    now: datetime,
) -> None:
    ids = list(interview_ids)
    if not ids:
        return
    await session.execute(
        update(LinkGrant)
        .where(LinkGrant.interview_id.in_(ids), LinkGrant.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=because.value)
        .execution_options(synchronize_session=False)
    )


async def revoke_earlier_rounds(
    session: AsyncSession, *, proposal_id: uuid.UUID, new_interview_id: uuid.UUID, now: datetime
) -> None:
    """A new round replaces the links of the others, except a booking still to come.

    A round booked for next week keeps its links: the candidate must still be able to see
    and cancel it.
    """
    rows = await session.execute(
        select(Interview.id, Interview.status, Interview.booked_end).where(
            Interview.proposal_id == proposal_id, Interview.id != new_interview_id
        )
    )
    replaced = [
        interview_id
        for interview_id, status, booked_end in rows
        if not (status is InterviewStatus.BOOKED and booked_end is not None and booked_end > now)
    ]
    await revoke_links(session, interview_ids=replaced, because=RevokedBecause.NEW_ROUND, now=now)


def link_expiry(*, issued_at: datetime, horizon: datetime | None, settings: Settings) -> datetime:
    """Valid until `link_valid_days` after the interview's last time (or after the mail)."""
    last = max(issued_at, horizon) if horizon is not None else issued_at
    return last + timedelta(days=settings.link_valid_days)


def link_url(settings: Settings, *, token: str, interview_id: uuid.UUID) -> str:
    return settings.booking_url_template.format(
        public_url=settings.public_url, token=token, interview_id=interview_id
    )


def signed_url(
    settings: Settings, *, grant_id: uuid.UUID, interview_id: uuid.UUID, expires_at: datetime
) -> str:
    token = sign_link(secret_key=settings.secret_key, grant_id=grant_id, expires_at=expires_at)
    return link_url(settings, token=token, interview_id=interview_id)
