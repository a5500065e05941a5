"""The one-statement reads of scheduling (app.scheduling.repository) on each database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import (
    CalendarConnection,
    CalendarProvider,
    ConnectionState,
    Interview,
    InterviewStatus,
    SlotReservation,
)
from app.scheduling import repository
from tests.conftest import Clock
from tests.factories import make_interview, make_world


async def test_slot_inputs_read_only_the_bookings_inside_the_windows(
    session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    world = await make_world(session)
    interview = await make_interview(
        session, settings, world.a, clock.now, participants=[world.a.member, world.a.colleague]
    )
    windows = await repository.windows_of(session, interview.id)
    first = windows[0]
    inside = (first.starts_at + timedelta(minutes=15), first.starts_at + timedelta(minutes=45))
    touching = (first.ends_at, first.ends_at + timedelta(minutes=30))  # ends where it starts
    outside = (first.starts_at - timedelta(days=1), first.starts_at - timedelta(hours=20))
    for round_no, (start, end) in enumerate([inside, touching, outside], start=50):
        other = Interview(
            proposal_id=world.a.proposal.id,
            round=round_no,
            requested_by_id=world.a.member.id,
            time_zone="UTC",
            duration_minutes=30,
            requested_at=clock.now,
            status=InterviewStatus.BOOKED,
            booked_start=start,
            booked_end=end,
        )
        session.add(other)
        await session.flush()
        session.add(
            SlotReservation(
                interview_id=other.id, user_id=world.a.colleague.id, starts_at=start, ends_at=end
            )
        )
    await session.commit()
    read = await repository.slot_inputs(session, interview.id, world.a.candidate.id)
    assert [(w.start, w.end) for w in read.windows] == [(w.starts_at, w.ends_at) for w in windows]
    assert read.members == {world.a.member.id, world.a.colleague.id}
    assert touching[1] <= windows[1].starts_at  # between the windows: inside no window
    assert [(b.start, b.end) for b in read.busy] == [inside]
    assert read.calendars is False


async def test_users_and_connected_flags_only_calendars_connected_now(
    session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    world = await make_world(session)
    for user, state in [
        (world.a.member, ConnectionState.CONNECTED),
        (world.a.colleague, ConnectionState.BROKEN),
    ]:
        session.add(
            CalendarConnection(
                user_id=user.id,
                provider=CalendarProvider.GOOGLE,
                account_email=user.email,
                calendar_id="primary",
                token_ciphertext="x",
                state=state,
            )
        )
    await session.commit()
    ids = {world.a.member.id, world.a.colleague.id, world.a.candidate.id}
    users, connected = await repository.users_and_connected(session, ids)
    assert set(users) == ids and users[world.a.member.id].email == world.a.member.email
    assert connected == {world.a.member.id}
    # Slots ask the providers of every connection of a member, broken ones included: those
    # are named in the answer as calendars that could not be checked.
    interview = await make_interview(
        session, settings, world.a, clock.now, participants=[world.a.colleague]
    )
    inputs = await repository.slot_inputs(session, interview.id, world.a.candidate.id)
    assert inputs.calendars is True


def test_slot_inputs_write_the_index_expression_as_the_index_has_it() -> None:
    """PostgreSQL plans a prepared statement generically after five runs: a bound value is
    then unknown, and tstzrange(starts_at, ends_at, $5) no longer matches the exclusion
    constraint's index expression tstzrange(starts_at, ends_at, '[)'). With the bounds sent
    as a parameter each call took 21 ms instead of 2 (bench/run.py's slots case)."""
    sql = str(
        repository._slot_inputs_statement(postgres=True).compile(dialect=postgresql.dialect())
    )
    assert "tstzrange(slot_reservations.starts_at, slot_reservations.ends_at, '[)')" in sql
    assert (
        "range_agg(tstzrange(availability_windows.starts_at, availability_windows.ends_at, '[)'))"
        in sql
    )
