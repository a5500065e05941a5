"""Demo data for the embedded default: one organization, its people, two interview rounds."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import load_viewer
from app.config import Settings
from app.models import Role, User
from app.people import service as people
from app.people.tokens import authenticate, issue_token
from app.scheduling import booking, requests
from app.scheduling.windows import WindowText

DEMO_DOMAIN = "demo.roundtable.example.com"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoToken:
    user: User
    token: str


async def is_empty(session: AsyncSession) -> bool:
    return await session.scalar(select(User.id).limit(1)) is None


# Offered times must suit everyone who attends: the team and the candidate, each in their
# own zone (a window at 09:00 in Los Angeles is 22:30 in Kolkata, or 21:30 in summer).
WAKING_HOURS = (time(7, 0), time(22, 0))
WINDOW = timedelta(minutes=90)


def _fits(start: datetime, end: datetime, tz: ZoneInfo) -> bool:
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    first, last = WAKING_HOURS
    return (
        local_start.date() == local_end.date()
        and local_start.time() >= first
        and local_end.time() <= last
    )


def _window(day: datetime, team_tz: ZoneInfo, attendee_zones: list[ZoneInfo]) -> WindowText:
    """The earliest 90-minute window on the team's local date of `day`, starting on the
    half hour, that lies within waking hours in every attendee's zone."""
    local_day = day.astimezone(team_tz).date()
    for half_hours in range(0, 48):
        start = datetime.combine(local_day, time(0), team_tz) + timedelta(minutes=30 * half_hours)
        start = start.astimezone(UTC)
        if all(_fits(start, start + WINDOW, tz) for tz in [team_tz, *attendee_zones]):
            local = start.astimezone(team_tz)
            end = (start + WINDOW).astimezone(team_tz)
            return WindowText(start=f"{local:%Y-%m-%dT%H:%M}", end=f"{end:%Y-%m-%dT%H:%M}")
    raise ValueError("no window suits every attendee on that day")


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
    attendees = [ZoneInfo(carl.time_zone)]  # Alice and Bob share the team's zone
    alice_viewer = await load_viewer(session, alice)
    days = [now + timedelta(days=n) for n in (2, 3, 5, 6)]
    first = await requests.request_interview(
        session=session,
        viewer=alice_viewer,
        settings=settings,
        request=requests.InterviewRequest(
            proposal_id=proposal.id,
            time_zone="America/Los_Angeles",
            windows=[_window(d, team_tz, attendees) for d in days[:2]],
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
            windows=[_window(d, team_tz, attendees) for d in days[2:]],
            participant_ids=[alice.id],
        ),
        now=now,
    )


async def demo_tokens(
    *,
    session: AsyncSession,
    settings: Settings,
    now: datetime,
    remembered: Path | None = None,
) -> list[DemoToken]:
    """A token for each demo user.

    Tokens are stored hashed, so an old one can only be shown again if it was kept: with
    `remembered` (the embedded default's var/demo-tokens.json, beside secret.key), tokens
    printed before are reused while they still work for this database, and only missing,
    revoked or expired ones are minted again. Without it, every call mints new tokens.
    """
    users = list(
        await session.scalars(
            select(User).where(User.email.like(f"%@{DEMO_DOMAIN}")).order_by(User.role, User.email)
        )
    )
    kept = _read_kept(remembered, settings.database_url)
    result: list[DemoToken] = []
    for user in users:
        token = kept.get(user.email)
        if token is not None:
            auth = await authenticate(session=session, token=token, now=now)
            if auth is None or auth.user.id != user.id:
                token = None
        if token is None:
            issued = await issue_token(
                session=session,
                user=user,
                lifetime=timedelta(days=settings.api_token_lifetime_days),
                now=now,
            )
            token = issued.token
        result.append(DemoToken(user, token))
    if remembered is not None:
        _write_kept(remembered, settings.database_url, {t.user.email: t.token for t in result})
    return result


def _read_kept(path: Path | None, database_url: str) -> dict[str, str]:
    if path is None or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        logger.warning("ignoring %s: %s", path, exc)
        return {}
    if not isinstance(data, dict) or data.get("database_url") != database_url:
        return {}  # tokens of another database
    tokens = data.get("tokens")
    return {str(k): str(v) for k, v in tokens.items()} if isinstance(tokens, dict) else {}


def _write_kept(path: Path, database_url: str, tokens: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)  # bearer tokens, like secret.key: for this machine's user only
    path.write_text(json.dumps({"database_url": database_url, "tokens": tokens}, indent=2))
