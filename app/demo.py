"""Demo data for the embedded default: one organization, its people, two interview rounds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import load_viewer
from app.config import Settings
from app.models import Role, User
from app.people import service as people
from app.people.tokens import issue_token
from app.scheduling import booking, requests
from app.scheduling.windows import WindowText

DEMO_DOMAIN = "demo.roundtable.example.com"


@dataclass(frozen=True)
class DemoToken:
    user: User
    token: str


async def is_empty(session: AsyncSession) -> bool:
    return await session.scalar(select(User.id).limit(1)) is None


def _window(day: datetime, start_hour: int, end_hour: int, tz: ZoneInfo) -> WindowText:
    local = day.astimezone(tz).date()
    return WindowText(
        start=f"{local.isoformat()}T{start_hour:02d}:00",
        end=f"{local.isoformat()}T{end_hour:02d}:00",
    )


async def seed(*, session: AsyncSession, settings: Settings, now: datetime) -> None:
    """Create the demo world through the same services the API uses."""
    org = await people.create_organization(session=session, name="Acme Robotics")

    async def user(email: str, name: str, role: Role, tz: str, in_org: bool = False) -> User:
        return await people.create_user(
            session=session,
            email=f"{email}@{DEMO_DOMAIN}",
            name=name,
            role=role,
            time_zone=tz,
            organization_id=org.id if in_org else None,
        )

    await user("admin", "Ada Admin", Role.ADMIN, "UTC")
    manager = await user("maria", "Maria Manager", Role.ACCOUNT_MANAGER, "America/New_York")
    alice = await user("alice", "Alice Lead", Role.HIRING_MEMBER, "America/Los_Angeles", True)
    bob = await user("bob", "Bob Engineer", Role.HIRING_MEMBER, "America/Los_Angeles", True)
    carl = await user("carl", "Carl Candidate", Role.CANDIDATE, "Asia/Kolkata")
    project = await people.create_project(
        session=session,
        organization_id=org.id,
        title="Senior Backend Engineer",
        account_manager_id=manager.id,
    )
    proposal = await people.create_proposal(
        session=session, project_id=project.id, candidate_id=carl.id
    )

    team_tz = ZoneInfo("America/Los_Angeles")
    alice_viewer = await load_viewer(session, alice)
    days = [now + timedelta(days=n) for n in (2, 3, 5, 6)]
    first = await requests.request_interview(
        session=session,
        viewer=alice_viewer,
        settings=settings,
        request=requests.InterviewRequest(
            proposal_id=proposal.id,
            time_zone="America/Los_Angeles",
            windows=[_window(days[0], 9, 11, team_tz), _window(days[1], 13, 15, team_tz)],
            participant_ids=[alice.id, bob.id],
            invite_emails=["hiring-panel@acme.example.com"],
        ),
        now=now,
    )
    slots = await booking.available_slots(
        session=session,
        viewer=await load_viewer(session, carl),
        settings=settings,
        interview_id=first.id,
        time_zone=carl.time_zone,
        now=now,
    )
    await booking.book_slot(
        session=session,
        viewer=await load_viewer(session, carl),
        settings=settings,
        interview_id=first.id,
        start=slots.days[0].slots[0].start,
        time_zone=carl.time_zone,
        now=now,
    )
    await requests.request_interview(
        session=session,
        viewer=alice_viewer,
        settings=settings,
        request=requests.InterviewRequest(
            proposal_id=proposal.id,
            time_zone="America/Los_Angeles",
            windows=[_window(days[2], 10, 12, team_tz), _window(days[3], 14, 16, team_tz)],
            participant_ids=[alice.id],
        ),
        now=now,
    )


async def demo_tokens(*, session: AsyncSession) -> list[DemoToken]:
    """A fresh token for each demo user (tokens are stored hashed, so old ones can't be shown)."""
    users = await session.scalars(
        select(User).where(User.email.like(f"%@{DEMO_DOMAIN}")).order_by(User.role, User.email)
    )
    return [DemoToken(u, await issue_token(session=session, user=u)) for u in users]
