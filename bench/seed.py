"""The benchmark's data set, written straight into Roundtable's tables (no services).

- a hiring member ("lister") who requested 60 pending interviews, each with 2 windows and
  3 participants (the lister, one colleague, one invitee): `myInterviews(first: 20)`;
- the slots interview: 50 windows over four weeks, 8 member participants who each have
  200 booked interviews elsewhere in those weeks: `availableSlots`;
- bookable interviews: BOOKERS candidates, each with BOOKINGS_EACH pending interviews at
  distinct hours with their own member, so every booking of a load run can succeed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    AvailabilityWindow,
    Interview,
    InterviewStatus,
    Organization,
    Participant,
    ParticipantKind,
    Project,
    Proposal,
    Role,
    SlotReservation,
    User,
)
from app.people.tokens import issue_token

LIST_INTERVIEWS = 60
SLOT_MEMBERS = 8
SLOT_BOOKINGS_EACH = 200
SLOT_WINDOWS = 50
BOOKERS = 40
BOOKINGS_EACH = 60


@dataclass
class Booking:
    token: str
    interview_id: str
    start: str  # ISO instant with offset


@dataclass
class World:
    lister_token: str
    slots_interview_id: str
    slots_token: str
    bookings: list[Booking] = field(default_factory=list)


def _hour(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _user(email: str, role: Role, org: uuid.UUID | None, tz: str = "UTC") -> User:
    return User(
        id=uuid.uuid4(),
        email=email,
        name=email.split("@")[0].title(),
        role=role,
        time_zone=tz,
        organization_id=org,
    )


async def seed(session: AsyncSession, now: datetime) -> World:
    base = _hour(now)
    org = Organization(id=uuid.uuid4(), name="Bench Org")
    session.add(org)
    manager = _user("am@bench.example.com", Role.ACCOUNT_MANAGER, None)
    lister = _user("lister@bench.example.com", Role.HIRING_MEMBER, org.id, "Europe/Paris")
    colleague = _user("colleague@bench.example.com", Role.HIRING_MEMBER, org.id)
    session.add_all([manager, lister, colleague])
    await session.flush()
    project = Project(
        id=uuid.uuid4(), organization_id=org.id, title="Bench", account_manager_id=manager.id
    )
    session.add(project)
    await session.flush()

    # myInterviews: 60 pending interviews requested by the lister, one proposal each.
    candidates = [
        _user(f"lc{i}@bench.example.com", Role.CANDIDATE, None, "Asia/Kolkata")
        for i in range(LIST_INTERVIEWS)
    ]
    session.add_all(candidates)
    await session.flush()  # no relationships: the unit of work follows our flushes
    for i, candidate in enumerate(candidates):
        proposal = Proposal(id=uuid.uuid4(), project_id=project.id, candidate_id=candidate.id)
        interview = Interview(
            id=uuid.uuid4(),
            proposal_id=proposal.id,
            round=1,
            requested_by_id=lister.id,
            time_zone="Europe/Paris",
            duration_minutes=30,
            requested_at=base - timedelta(minutes=i),
        )
        day = base + timedelta(days=2 + i % 20)
        session.add(proposal)
        await session.flush()
        session.add(interview)
        await session.flush()
        session.add_all(
            AvailabilityWindow(
                interview_id=interview.id,
                position=p,
                starts_at=day + timedelta(hours=3 * p),
                ends_at=day + timedelta(hours=3 * p + 2),
            )
            for p in range(2)
        )
        session.add_all(
            [
                Participant(
                    interview_id=interview.id,
                    kind=ParticipantKind.MEMBER,
                    user_id=lister.id,
                    email=lister.email,
                ),
                Participant(
                    interview_id=interview.id,
                    kind=ParticipantKind.MEMBER,
                    user_id=colleague.id,
                    email=colleague.email,
                ),
                Participant(
                    interview_id=interview.id,
                    kind=ParticipantKind.INVITEE,
                    user_id=None,
                    email=f"guest{i}@outside.example.com",
                ),
            ]
        )
    await session.flush()

    # availableSlots: 50 two-hour windows over four weeks, 8 busy members.
    members = [
        _user(f"m{i}@bench.example.com", Role.HIRING_MEMBER, org.id) for i in range(SLOT_MEMBERS)
    ]
    slot_candidate = _user("sc@bench.example.com", Role.CANDIDATE, None, "Asia/Kolkata")
    other_candidate = _user("oc@bench.example.com", Role.CANDIDATE, None)
    session.add_all([*members, slot_candidate, other_candidate])
    await session.flush()
    slot_proposal = Proposal(id=uuid.uuid4(), project_id=project.id, candidate_id=slot_candidate.id)
    slot_interview = Interview(
        id=uuid.uuid4(),
        proposal_id=slot_proposal.id,
        round=1,
        requested_by_id=members[0].id,
        time_zone="America/New_York",
        duration_minutes=30,
        requested_at=base,
    )
    session.add(slot_proposal)
    await session.flush()
    session.add(slot_interview)
    await session.flush()
    day = base.replace(hour=13) + timedelta(days=1)
    starts: list[datetime] = []
    while len(starts) < SLOT_WINDOWS:
        starts.append(day)
        starts.append(day + timedelta(hours=5))
        day += timedelta(days=1)
    session.add_all(
        AvailabilityWindow(
            interview_id=slot_interview.id,
            position=p,
            starts_at=s,
            ends_at=s + timedelta(hours=2),
        )
        for p, s in enumerate(starts[:SLOT_WINDOWS])
    )
    session.add_all(
        Participant(
            interview_id=slot_interview.id,
            kind=ParticipantKind.MEMBER,
            user_id=m.id,
            email=m.email,
        )
        for m in members
    )
    # 200 booked interviews elsewhere per member, spread over the same four weeks.
    other_proposal = Proposal(
        id=uuid.uuid4(), project_id=project.id, candidate_id=other_candidate.id
    )
    session.add(other_proposal)
    await session.flush()
    round_no = 1
    reservations: list[SlotReservation] = []
    for index, member in enumerate(members):
        for n in range(SLOT_BOOKINGS_EACH):
            start = base + timedelta(days=1, minutes=30 * (n * 3 + index))
            other = Interview(
                id=uuid.uuid4(),
                proposal_id=other_proposal.id,
                round=round_no,
                requested_by_id=member.id,
                time_zone="UTC",
                duration_minutes=30,
                requested_at=base - timedelta(days=1),
                status=InterviewStatus.BOOKED,
                booked_start=start,
                booked_end=start + timedelta(minutes=30),
            )
            round_no += 1
            session.add(other)
            reservations.append(
                SlotReservation(
                    interview_id=other.id,
                    user_id=member.id,
                    starts_at=start,
                    ends_at=start + timedelta(minutes=30),
                )
            )
    await session.flush()
    session.add_all(reservations)
    await session.flush()

    # bookInterview: each booker has its own member and interviews at distinct hours.
    bookings: list[Booking] = []
    for k in range(BOOKERS):
        booker = _user(f"b{k}@bench.example.com", Role.CANDIDATE, None, "Asia/Kolkata")
        member = _user(f"bm{k}@bench.example.com", Role.HIRING_MEMBER, org.id)
        session.add_all([booker, member])
        await session.flush()
        proposal = Proposal(id=uuid.uuid4(), project_id=project.id, candidate_id=booker.id)
        session.add(proposal)
        await session.flush()
        later: list[object] = []
        token = (await issue_token(session=session, user=booker)).token
        for j in range(BOOKINGS_EACH):
            start = base + timedelta(days=1, hours=j)
            interview = Interview(
                id=uuid.uuid4(),
                proposal_id=proposal.id,
                round=j + 1,
                requested_by_id=member.id,
                time_zone="UTC",
                duration_minutes=30,
                requested_at=base - timedelta(hours=1),
            )
            session.add(interview)
            later.extend(
                AvailabilityWindow(
                    interview_id=interview.id,
                    position=p,
                    starts_at=start + timedelta(minutes=30 * p),
                    ends_at=start + timedelta(minutes=30 * p + 30),
                )
                for p in range(2)
            )
            later.extend(
                [
                    Participant(
                        interview_id=interview.id,
                        kind=ParticipantKind.MEMBER,
                        user_id=member.id,
                        email=member.email,
                    ),
                    Participant(
                        interview_id=interview.id,
                        kind=ParticipantKind.INVITEE,
                        user_id=None,
                        email=f"guest-b{k}@outside.example.com",
                    ),
                ]
            )
            bookings.append(Booking(token, str(interview.id), start.isoformat()))
        await session.flush()
        session.add_all(later)
        await session.flush()
    world = World(
        lister_token=(await issue_token(session=session, user=lister)).token,
        slots_interview_id=str(slot_interview.id),
        slots_token=(await issue_token(session=session, user=slot_candidate)).token,
        bookings=bookings,
    )
    await session.commit()
    return world
