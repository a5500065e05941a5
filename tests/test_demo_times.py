"""The demo's offered times suit each demo person, in their own zone, in winter and summer."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import begin_write
from app.demo import seed
from app.models import AvailabilityWindow, Interview, Participant, Proposal, User


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 1, 12, 15, 0, tzinfo=UTC),  # Los Angeles at UTC-8: Kolkata +13:30
        datetime(2026, 7, 13, 15, 0, tzinfo=UTC),  # Los Angeles at UTC-7: Kolkata +12:30
        datetime(2026, 3, 5, 3, 30, tzinfo=UTC),  # a week before the US clocks change
    ],
)
async def test_demo_slots_fall_in_waking_hours_for_every_attendee(
    session: AsyncSession, settings: Settings, now: datetime
) -> None:
    await begin_write(session)
    await seed(session=session, settings=settings, now=now)
    await session.commit()
    interviews = list(await session.scalars(select(Interview)))
    assert interviews
    checked = 0
    for interview in interviews:
        proposal = await session.get(Proposal, interview.proposal_id)
        assert proposal is not None
        member_ids = list(
            await session.scalars(
                select(Participant.user_id).where(
                    Participant.interview_id == interview.id, Participant.user_id.is_not(None)
                )
            )
        )
        people = list(
            await session.scalars(
                select(User).where(User.id.in_([*member_ids, proposal.candidate_id]))
            )
        )
        zones = {p.time_zone for p in people} | {interview.time_zone}
        assert "Asia/Kolkata" in zones
        windows = await session.scalars(
            select(AvailabilityWindow).where(AvailabilityWindow.interview_id == interview.id)
        )
        for window in windows:
            slot = window.starts_at
            while slot + timedelta(minutes=interview.duration_minutes) <= window.ends_at:
                end = slot + timedelta(minutes=interview.duration_minutes)
                for name in zones:
                    start_local = slot.astimezone(ZoneInfo(name))
                    end_local = end.astimezone(ZoneInfo(name))
                    # Never at night: nothing between 23:30 and 05:30, and in fact nothing
                    # outside 07:00-22:00, for anyone in the meeting.
                    assert start_local.time() >= time(7), (name, start_local)
                    assert end_local.time() <= time(22), (name, end_local)
                    assert start_local.date() == end_local.date(), (name, start_local)
                    checked += 1
                slot = end
    assert checked > 0
    await session.commit()
