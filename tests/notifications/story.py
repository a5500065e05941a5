"""One candidate's whole story through the services, leaving every kind of message queued.

Request (with a colleague and a guest), edit (a window moved, one added, one removed), other
times asked for, a reminder, booking, a reschedule by the account manager, booking again, a
cancellation by the candidate, a second round booked, and a hire that cancels it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import load_viewer
from app.config import Settings
from app.db import begin_write
from app.models import Interview, OutboxMessage
from app.people import service as people
from app.scheduling import booking, requests
from app.workers.reminders import remind
from tests.conftest import Clock
from tests.factories import Side, World, book_first_slot, local_windows, make_world

GUEST = "guest@outside.example"
TEAM_ZONE = "America/New_York"


@dataclass
class Story:
    world: World
    first: Interview  # round 1 as requested, edited, booked, then rescheduled
    second: Interview  # round 1 again at new times: booked, then cancelled by the candidate
    third: Interview  # round 2: booked, then cancelled by the hire
    rows: list[OutboxMessage]
    requested_at: datetime  # the story's clock

    @property
    def side(self) -> Side:
        return self.world.a

    def row(self, kind: str, to: str, interview: Interview | None = None) -> OutboxMessage:
        found = [
            r
            for r in self.rows
            if r.payload["kind"] == kind
            and r.payload["to"] == to
            and (interview is None or r.payload["interview_id"] == str(interview.id))
        ]
        assert len(found) == 1, (kind, to, len(found))
        return found[0]


async def tell_story(session: AsyncSession, settings: Settings, clock: Clock) -> Story:
    await begin_write(session)
    world = await make_world(session)
    side = world.a
    await begin_write(session)
    # Readable names, so "who acted" reads as people would see it.
    for user, name in [
        (side.member, "Lena Lead"),
        (side.colleague, "Cole Colleague"),
        (side.manager, "Ann Manager"),
        (side.candidate, "Cora Candidate"),
    ]:
        await people.update_me(session=session, user_id=user.id, name=name, time_zone=None)
    await session.commit()
    member = await load_viewer(session, side.member)
    await session.commit()
    day3, day4, day5 = (clock.now + timedelta(days=n) for n in (3, 4, 5))

    await begin_write(session)
    first = await requests.request_interview(
        session=session,
        viewer=member,
        settings=settings,
        request=requests.InterviewRequest(
            proposal_id=side.proposal.id,
            time_zone=TEAM_ZONE,
            windows=[
                *local_windows(day3, TEAM_ZONE, [("09:00", "11:00"), ("14:00", "15:00")]),
                *local_windows(day5, TEAM_ZONE, [("09:00", "10:00")]),
            ],
            participant_ids=[side.member.id, side.colleague.id],
            invite_emails=[GUEST],
        ),
        now=clock.now,
    )
    await session.commit()

    await begin_write(session)
    await requests.update_availability(
        session=session,
        viewer=member,
        settings=settings,
        interview_id=first.id,
        windows=[
            # 09:00-11:00 kept, 14:00-15:00 moved to 15:00-16:00, day 4 added, day 5 removed
            *local_windows(day3, TEAM_ZONE, [("09:00", "11:00"), ("15:00", "16:00")]),
            *local_windows(day4, TEAM_ZONE, [("10:00", "11:00")]),
        ],
        notify_participants=True,
        now=clock.now,
    )
    await session.commit()

    candidate = await load_viewer(session, side.candidate)
    await session.commit()
    await begin_write(session)
    await booking.request_alternative_times(
        session=session, viewer=candidate, interview_id=first.id, message="Evenings suit me"
    )
    await session.commit()

    await begin_write(session)
    assert await remind(session=session, interview_id=first.id, now=clock.now)
    await session.commit()

    await book_first_slot(session, settings, side, first, clock.now)

    manager = await load_viewer(session, side.manager)
    await session.commit()
    await begin_write(session)
    second = await requests.reschedule_interview(
        session=session,
        viewer=manager,
        settings=settings,
        interview_id=first.id,
        time_zone=TEAM_ZONE,
        windows=local_windows(
            clock.now + timedelta(days=6), TEAM_ZONE, [("10:00", "11:00"), ("13:00", "14:00")]
        ),
        reason="Lena is travelling",
        now=clock.now,
    )
    await session.commit()
    await book_first_slot(session, settings, side, second, clock.now)

    candidate = await load_viewer(session, side.candidate)
    await session.commit()
    await begin_write(session)
    await requests.cancel_interview(
        session=session,
        viewer=candidate,
        interview_id=second.id,
        reason="a clash at work",
        now=clock.now,
    )
    await session.commit()

    await begin_write(session)
    third = await requests.request_interview(
        session=session,
        viewer=member,
        settings=settings,
        request=requests.InterviewRequest(
            proposal_id=side.proposal.id,
            time_zone=TEAM_ZONE,
            windows=local_windows(
                clock.now + timedelta(days=8), TEAM_ZONE, [("09:00", "10:00"), ("11:00", "12:00")]
            ),
            participant_ids=[side.member.id],
        ),
        now=clock.now,
    )
    await session.commit()
    await book_first_slot(session, settings, side, third, clock.now)

    await begin_write(session)
    await requests.hire_candidate(
        session=session,
        viewer=member,
        proposal_id=side.proposal.id,
        now=clock.now,
        upcoming=requests.UpcomingInterviews.CANCEL,
    )
    await session.commit()

    rows = list(
        await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.topic == "mail")
            .order_by(OutboxMessage.created_at)
        )
    )
    for interview in (first, second, third):
        await session.refresh(interview)
    await session.commit()
    return Story(world, first, second, third, rows, clock.now)
