"""What a link leads to now: the booking page, or a page saying what happened instead."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.links.access import LinkAccess, LinkProblem, LinkRefusal, authenticate_link
from app.links.grants import RevokedBecause, link_expiry, signed_url
from app.models import (
    AvailabilityWindow,
    Interview,
    InterviewStatus,
    LinkGrant,
    LinkScope,
    Organization,
    Project,
    Proposal,
    ProposalStatus,
    User,
)

MAX_RESCHEDULES_FOLLOWED = 20


class Situation(enum.StrEnum):
    OPEN = "OPEN"  # pending, or booked and still to come: the booking page
    PAST = "PAST"
    CANCELLED = "CANCELLED"
    RESCHEDULED = "RESCHEDULED"
    NEW_ROUND = "NEW_ROUND"
    HIRED = "HIRED"
    EXPIRED = "EXPIRED"
    INVALID = "INVALID"


STATUS_CODES = {
    Situation.OPEN: 200,
    Situation.PAST: 200,  # the link still works; it shows what took place
    Situation.INVALID: 404,
}
GONE = 410  # every other situation: the link no longer leads to an interview


@dataclass(frozen=True)
class Contact:
    name: str
    email: str


@dataclass(frozen=True)
class LinkPage:
    situation: Situation
    is_candidate: bool = False
    organization: str | None = None
    project_title: str | None = None
    round: int | None = None
    contact: Contact | None = None  # the account manager
    when: datetime | None = None  # cancelled at, or the booked start
    time_zone: str = "UTC"  # the reader's, for times the page shows
    new_link: str | None = None

    @property
    def status_code(self) -> int:
        return STATUS_CODES.get(self.situation, GONE)


@dataclass(frozen=True)
class _Row:
    interview: Interview
    proposal: Proposal
    project: Project
    organization: Organization
    manager: User


async def _load(session: AsyncSession, interview_id: uuid.UUID) -> _Row | None:
    row = (
        await session.execute(
            select(Interview, Proposal, Project, Organization, User)
            .join(Proposal, Proposal.id == Interview.proposal_id)
            .join(Project, Project.id == Proposal.project_id)
            .join(Organization, Organization.id == Project.organization_id)
            .join(User, User.id == Project.account_manager_id)
            .where(Interview.id == interview_id)
        )
    ).first()
    return None if row is None else _Row(*row)


async def resolve_link_page(
    *, session: AsyncSession, settings: Settings, token: str, now: datetime
) -> LinkPage:
    found = await authenticate_link(session=session, settings=settings, token=token, now=now)
    grant = found.grant
    if grant is None:
        return LinkPage(Situation.INVALID)
    row = await _load(session, grant.interview_id)
    if row is None:
        return LinkPage(Situation.INVALID)
    user = found.user if isinstance(found, LinkAccess) else await _user(session, grant.user_id)
    page = LinkPage(
        Situation.OPEN,
        is_candidate=grant.scope is LinkScope.CANDIDATE,
        organization=row.organization.name,
        project_title=row.project.title,
        round=row.interview.round,
        contact=Contact(row.manager.name, row.manager.email),
        time_zone=user.time_zone if user is not None else row.interview.time_zone,
    )
    rescheduled = row.interview.status is InterviewStatus.CANCELLED and (
        await session.scalar(
            select(Interview.id).where(Interview.rescheduled_from_id == row.interview.id)
        )
        is not None
    )
    situation, when = _situation(found, grant, row, now, rescheduled=rescheduled)
    new_link = None
    if situation in {Situation.RESCHEDULED, Situation.NEW_ROUND}:
        new_link = await _successor_link(session, settings, grant, row, situation, now)
    return replace(page, situation=situation, when=when, new_link=new_link)


def _situation(
    found: LinkAccess | LinkRefusal,
    grant: LinkGrant,
    row: _Row,
    now: datetime,
    *,
    rescheduled: bool,
) -> tuple[Situation, datetime | None]:
    interview = row.interview
    if isinstance(found, LinkRefusal) and found.problem is LinkProblem.EXPIRED:
        return Situation.EXPIRED, None
    revoked = isinstance(found, LinkRefusal) and found.problem is LinkProblem.REVOKED
    because = grant.revoked_reason if revoked else None
    if because == RevokedBecause.RESCHEDULED or rescheduled:
        return Situation.RESCHEDULED, interview.cancelled_at
    if because == RevokedBecause.HIRED or (
        interview.status is InterviewStatus.CANCELLED
        and row.proposal.status is ProposalStatus.HIRED
    ):
        return Situation.HIRED, interview.cancelled_at
    if because == RevokedBecause.NEW_ROUND:
        return Situation.NEW_ROUND, None
    if revoked or interview.status is InterviewStatus.CANCELLED:
        return Situation.CANCELLED, interview.cancelled_at
    if interview.status is InterviewStatus.BOOKED:
        assert interview.booked_end is not None
        if interview.booked_end <= now:
            return Situation.PAST, interview.booked_start
    return Situation.OPEN, interview.booked_start


async def _user(session: AsyncSession, user_id: uuid.UUID | None) -> User | None:
    return await session.get(User, user_id) if user_id is not None else None


async def _successor_link(
    session: AsyncSession,
    settings: Settings,
    grant: LinkGrant,
    row: _Row,
    situation: Situation,
    now: datetime,
) -> str | None:
    """The same person's link to the interview that took this one's place, if they have one."""
    target: Interview | None = row.interview
    if situation is Situation.RESCHEDULED:
        for _ in range(MAX_RESCHEDULES_FOLLOWED):
            assert target is not None
            following = await session.scalar(
                select(Interview).where(Interview.rescheduled_from_id == target.id)
            )
            if following is None:
                break
            target = following
    else:
        target = await session.scalar(
            select(Interview)
            .where(Interview.proposal_id == row.proposal.id)
            .order_by(Interview.round.desc(), Interview.requested_at.desc())
            .limit(1)
        )
    if target is None or target.id == row.interview.id:
        return None
    same_person = (
        LinkGrant.user_id == grant.user_id
        if grant.user_id is not None
        else func.lower(LinkGrant.email) == grant.email.lower()
    )
    successor = await session.scalar(
        select(LinkGrant)
        .where(
            LinkGrant.interview_id == target.id,
            LinkGrant.revoked_at.is_(None),
            LinkGrant.scope == grant.scope,
            same_person,
        )
        .order_by(LinkGrant.created_at.desc())
        .limit(1)
    )
    if successor is None:
        return None
    horizon = target.booked_end or await session.scalar(
        select(func.max(AvailabilityWindow.ends_at)).where(
            AvailabilityWindow.interview_id == target.id
        )
    )
    return signed_url(
        settings,
        grant_id=successor.id,
        interview_id=target.id,
        expires_at=link_expiry(issued_at=now, horizon=horizon, settings=settings),
    )
