"""My Interviews' groups: who falls in which, split at the end of the interview, in order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.access import load_viewer
from app.config import Settings
from app.models import User
from app.scheduling import booking, requests
from app.scheduling.listing import InterviewGroup, my_interviews
from app.scheduling.windows import WindowText
from tests.conftest import Clock
from tests.factories import make_interview, make_world

WINDOWS = [
    WindowText("2026-03-05T09:00", "2026-03-05T10:00"),
    WindowText("2026-03-06T09:00", "2026-03-06T09:30"),
]
NINE = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)


async def _book(
    session: AsyncSession,
    settings: Settings,
    user: User,
    interview_id: uuid.UUID,
    start: datetime,
    now: datetime,
) -> None:
    viewer = await load_viewer(session, user)
    await booking.book_slot(
        session=session,
        viewer=viewer,
        settings=settings,
        interview_id=interview_id,
        start=start,
        time_zone="UTC",
        now=now,
        calendars=await booking.ask_member_calendars(
            session=session, viewer=viewer, settings=settings, interview_id=interview_id
        ),
    )
    await session.commit()


async def test_groups_split_at_the_end_and_keep_their_order(
    session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    world = await make_world(session)
    side = world.a
    made = []
    for participant in (side.member, side.colleague, side.member, side.colleague):
        made.append(
            await make_interview(
                session,
                settings,
                side,
                clock.now,
                windows=WINDOWS,
                time_zone="UTC",
                participants=[participant],
            )
        )
        clock.now += timedelta(minutes=1)  # requested one after another
    early, late, cancelled, pending = made
    await _book(session, settings, side.candidate, early.id, NINE, clock.now)
    await _book(session, settings, side.candidate, late.id, NINE + timedelta(minutes=30), clock.now)
    await _book(
        session, settings, side.candidate, cancelled.id, NINE + timedelta(days=1), clock.now
    )
    await requests.cancel_interview(
        session=session,
        viewer=await load_viewer(session, side.member),
        interview_id=cancelled.id,
        reason=None,
        now=clock.now,
    )
    await session.commit()
    viewer = await load_viewer(session, side.candidate)

    async def group(name: InterviewGroup, now: datetime) -> list[uuid.UUID]:
        rows, more = await my_interviews(
            session=session, viewer=viewer, group=name, first=10, after=None, now=now
        )
        assert more is False
        return [r.id for r in rows]

    before = NINE - timedelta(hours=1)
    assert await group(InterviewGroup.UPCOMING, before) == [early.id, late.id]
    assert await group(InterviewGroup.PAST, before) == []
    # The first interview ends exactly now: it is past, the second still upcoming.
    at_end = NINE + timedelta(minutes=30)
    assert await group(InterviewGroup.UPCOMING, at_end) == [late.id]
    assert await group(InterviewGroup.PAST, at_end) == [early.id]
    after = NINE + timedelta(hours=2)
    assert await group(InterviewGroup.UPCOMING, after) == []
    assert await group(InterviewGroup.PAST, after) == [late.id, early.id]
    assert await group(InterviewGroup.CANCELLED, after) == [cancelled.id]
    assert await group(InterviewGroup.PENDING, after) == [pending.id]
    # Pending: newest request first.
    newer = await make_interview(
        session, settings, side, clock.now + timedelta(minutes=5), windows=WINDOWS, time_zone="UTC"
    )
    assert await group(InterviewGroup.PENDING, after) == [newer.id, pending.id]
