"""Reading a link token on a request: what it reaches, or why it reaches nothing."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import Viewer
from app.config import Settings
from app.links.tokens import BadLink, read_link
from app.models import LinkGrant, LinkScope, Role, User

LINK_HEADER = "x-roundtable-link"


class LinkAction(enum.StrEnum):
    VIEW = "VIEW"
    LIST_SLOTS = "LIST_SLOTS"
    BOOK = "BOOK"
    REQUEST_ALTERNATIVE_TIMES = "REQUEST_ALTERNATIVE_TIMES"
    CANCEL = "CANCEL"
    MOVE = "MOVE"  # move the booking to another offered slot
    UPDATE_TIME_ZONE = "UPDATE_TIME_ZONE"  # the zone chosen on the page, saved to the profile


ACTIONS: dict[LinkScope, frozenset[LinkAction]] = {
    LinkScope.CANDIDATE: frozenset(LinkAction),
    LinkScope.VIEWER: frozenset({LinkAction.VIEW}),
}


class LinkProblem(enum.StrEnum):
    INVALID = "INVALID"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


@dataclass(frozen=True)
class LinkRefusal:
    problem: LinkProblem
    message: str
    grant: LinkGrant | None = None  # known when the signature held


@dataclass(frozen=True)
class LinkAccess:
    grant: LinkGrant
    user: User | None  # None for an invitee
    expires_at: datetime

    @property
    def interview_id(self) -> uuid.UUID:
        return self.grant.interview_id

    @property
    def scope(self) -> LinkScope:
        return self.grant.scope

    @property
    def actions(self) -> frozenset[LinkAction]:
        return ACTIONS[self.grant.scope]

    def allows(self, interview_id: uuid.UUID, action: LinkAction) -> bool:
        return interview_id == self.grant.interview_id and action in self.actions

    @property
    def viewer(self) -> Viewer | None:
        """The candidate, acting through the services; nobody else acts through a link."""
        if self.user is None or self.scope is not LinkScope.CANDIDATE:
            return None
        if self.user.role is not Role.CANDIDATE:
            return None
        return Viewer(self.user)


REFUSALS = {
    LinkProblem.INVALID: "This link is not valid: it was changed or cut short.",
    LinkProblem.EXPIRED: "This link has expired.",
    LinkProblem.REVOKED: "This link no longer works: the interview changed since it was sent.",
}


async def authenticate_link(
    *, session: AsyncSession, settings: Settings, token: str, now: datetime
) -> LinkAccess | LinkRefusal:
    try:
        signed = read_link(secret_key=settings.secret_key, token=token.strip())
    except BadLink:
        return LinkRefusal(LinkProblem.INVALID, REFUSALS[LinkProblem.INVALID])
    row = (
        await session.execute(
            select(LinkGrant, User)
            .outerjoin(User, User.id == LinkGrant.user_id)
            .where(LinkGrant.id == signed.grant_id)
        )
    ).first()
    if row is None:
        # Signed by us, yet no grant: the database was reset or the row deleted.
        return LinkRefusal(LinkProblem.INVALID, REFUSALS[LinkProblem.INVALID])
    grant, user = row
    if grant.revoked_at is not None:
        return LinkRefusal(LinkProblem.REVOKED, REFUSALS[LinkProblem.REVOKED], grant)
    if signed.expires_at <= now:
        return LinkRefusal(LinkProblem.EXPIRED, REFUSALS[LinkProblem.EXPIRED], grant)
    return LinkAccess(grant=grant, user=user, expires_at=signed.expires_at)
