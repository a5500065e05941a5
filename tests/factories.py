"""Small factories for test data, built through the same services the API uses."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.access import load_viewer
from app.config import Settings
from app.models import Interview, Organization, Project, Proposal, Role, User
from app.people import service
from app.people.tokens import issue_token
from app.scheduling import booking, requests
from app.scheduling.windows import WindowText

_counter = itertools.count(1)


async def make_user(
    session: AsyncSession,
    role: Role,
    *,
    organization: Organization | None = None,
    time_zone: str = "UTC",
    name: str | None = None,
) -> User:
    n = next(_counter)
    return await service.create_user(
        session=session,
        email=f"{role.value.lower()}{n}@example.com",
        name=name or f"{role.value.title()} {n}",
        role=role,
        time_zone=time_zone,
        organization_id=organization.id if organization else None,
    )


@dataclass
class Side:
    """One organization with two members, its account manager, a candidate and a proposal."""

    organization: Organization
    member: User
    colleague: User
    manager: User
    candidate: User
    project: Project
    proposal: Proposal


async def make_side(session: AsyncSession, label: str, team_tz: str = "America/New_York") -> Side:
    org = await service.create_organization(session=session, name=f"Org {label}")
    member = await make_user(session, Role.HIRING_MEMBER, organization=org, time_zone=team_tz)
    colleague = await make_user(session, Role.HIRING_MEMBER, organization=org, time_zone=team_tz)
    manager = await make_user(session, Role.ACCOUNT_MANAGER, time_zone="Europe/London")
    candidate = await make_user(session, Role.CANDIDATE, time_zone="Asia/Kolkata")
    project = await service.create_project(
        session=session,
        organization_id=org.id,
        title=f"Project {label}",
        account_manager_id=manager.id,
    )
    proposal = await service.create_proposal(
        session=session, project_id=project.id, candidate_id=candidate.id
    )
    return Side(org, member, colleague, manager, candidate, project, proposal)


@dataclass
class World:
    a: Side
    b: Side
    admin: User
    tokens: dict[str, str]  # user id -> token

    def token(self, user: User) -> str:
        return self.tokens[str(user.id)]


async def make_world(session: AsyncSession) -> World:
    a = await make_side(session, "A")
    b = await make_side(session, "B")
    admin = await make_user(session, Role.ADMIN)
    tokens: dict[str, str] = {}
    for side in (a, b):
        for user in (side.member, side.colleague, side.manager, side.candidate):
            tokens[str(user.id)] = (await issue_token(session=session, user=user)).token
    tokens[str(admin.id)] = (await issue_token(session=session, user=admin)).token
    await session.commit()
    return World(a, b, admin, tokens)


def local_windows(day: datetime, tz: str, spans: list[tuple[str, str]]) -> list[WindowText]:
    """Windows on the team's local date of `day`, e.g. spans=[("09:00", "11:00")]."""
    local = day.astimezone(ZoneInfo(tz)).date().isoformat()
    return [WindowText(f"{local}T{start}", f"{local}T{end}") for start, end in spans]


async def make_interview(
    session: AsyncSession,
    settings: Settings,
    side: Side,
    now: datetime,
    *,
    windows: list[WindowText] | None = None,
    participants: list[User] | None = None,
    invite_emails: list[str] | None = None,
    time_zone: str = "America/New_York",
) -> Interview:
    day = now + timedelta(days=3)
    interview = await requests.request_interview(
        session=session,
        viewer=await load_viewer(session, side.member),
        settings=settings,
        request=requests.InterviewRequest(
            proposal_id=side.proposal.id,
            time_zone=time_zone,
            windows=windows
            or local_windows(day, time_zone, [("09:00", "11:00"), ("14:00", "15:00")]),
            participant_ids=[p.id for p in (participants or [side.member])],
            invite_emails=invite_emails or [],
        ),
        now=now,
    )
    await session.commit()
    return interview


async def book_first_slot(
    session: AsyncSession, settings: Settings, side: Side, interview: Interview, now: datetime
) -> Interview:
    viewer = await load_viewer(session, side.candidate)
    # In the candidate's own zone: booking saves the zone chosen as theirs.
    own_zone = viewer.user.time_zone
    slots = await booking.available_slots(
        session=session,
        viewer=viewer,
        settings=settings,
        interview_id=interview.id,
        time_zone=own_zone,
        now=now,
    )
    booked = await booking.book_slot(
        session=session,
        viewer=viewer,
        settings=settings,
        interview_id=interview.id,
        start=slots.days[0].slots[0].start,
        time_zone=own_zone,
        now=now,
    )
    await session.commit()
    return booked
