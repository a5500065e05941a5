"""Which change emits which webhook event, written in the change's own transaction."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import load_viewer
from app.config import Settings
from app.db import begin_write
from app.models import OutboxMessage
from app.outbox.topics import WEBHOOK_TOPIC
from app.scheduling import booking, requests
from app.webhooks.endpoints import create_endpoint, set_enabled
from app.workers.reminders import remind
from tests.conftest import Clock
from tests.factories import World, book_first_slot, local_windows, make_interview, make_world

PUBLIC_HOOK = "https://93.184.215.14/hooks"


async def events(session: AsyncSession) -> list[tuple[str | None, int | None, str]]:
    rows = await session.scalars(select(OutboxMessage).where(OutboxMessage.topic == WEBHOOK_TOPIC))
    found = [(r.payload["interview_id"], r.payload["seq"], r.payload["type"]) for r in rows]
    await session.commit()
    return sorted(found, key=lambda e: (str(e[0]), e[1] or 0))


async def endpoint(
    session: AsyncSession, settings: Settings, world: World, **kw: object
) -> uuid.UUID:
    await begin_write(session)
    made = await create_endpoint(
        session=session,
        settings=settings,
        by=world.admin,
        url=PUBLIC_HOOK,
        **kw,  # type: ignore[arg-type]
    )
    await session.commit()
    return made.endpoint.id


async def test_each_status_change_emits_its_event_in_the_interviews_order(
    session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    await begin_write(session)
    world = await make_world(session)
    await endpoint(session, settings, world, events=None)
    member = await load_viewer(session, world.a.member)
    candidate = await load_viewer(session, world.a.candidate)
    day = clock.now + timedelta(days=5)

    await begin_write(session)
    first = await make_interview(session, settings, world.a, clock.now)
    await begin_write(session)
    await requests.update_availability(
        session=session,
        viewer=member,
        settings=settings,
        interview_id=first.id,
        windows=local_windows(day, first.time_zone, [("09:00", "10:00"), ("11:00", "12:00")]),
        notify_participants=False,
        now=clock.now,
    )
    await session.commit()
    await begin_write(session)
    await booking.request_alternative_times(
        session=session, viewer=candidate, interview_id=first.id, message=None
    )
    await session.commit()
    await begin_write(session)
    assert await remind(session=session, interview_id=first.id, now=clock.now)
    await session.commit()
    await begin_write(session)
    await book_first_slot(session, settings, world.a, first, clock.now)
    await begin_write(session)
    second = await requests.reschedule_interview(
        session=session,
        viewer=member,
        settings=settings,
        interview_id=first.id,
        time_zone=first.time_zone,
        windows=local_windows(day, first.time_zone, [("13:00", "14:00"), ("15:00", "16:00")]),
        reason=None,
        now=clock.now,
    )
    await session.commit()
    await begin_write(session)
    await requests.hire_candidate(
        session=session, viewer=member, proposal_id=world.a.proposal.id, now=clock.now
    )
    await session.commit()

    assert await events(session) == sorted(
        [
            (str(first.id), 1, "interview.requested"),
            (str(first.id), 2, "interview.updated"),
            (str(first.id), 3, "interview.alternative_times_requested"),
            (str(first.id), 4, "interview.reminded"),
            (str(first.id), 5, "interview.booked"),
            (str(first.id), 6, "interview.cancelled"),
            (str(second.id), 1, "interview.rescheduled"),
            (str(second.id), 2, "interview.cancelled"),  # pending when the candidate was hired
            (None, None, "proposal.hired"),
        ],
        key=lambda e: (str(e[0]), e[1] or 0),
    )


async def test_an_endpoint_gets_only_its_types_and_nothing_once_disabled(
    session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    await begin_write(session)
    world = await make_world(session)
    hook = await endpoint(session, settings, world, events=["interview.booked"])
    await begin_write(session)
    interview = await make_interview(session, settings, world.a, clock.now)
    await begin_write(session)
    await book_first_slot(session, settings, world.a, interview, clock.now)
    assert [e[2] for e in await events(session)] == ["interview.booked"]

    await begin_write(session)
    await set_enabled(session=session, endpoint_id=hook, enabled=False)
    await session.commit()
    await begin_write(session)
    await requests.cancel_interview(
        session=session,
        viewer=await load_viewer(session, world.a.member),
        interview_id=interview.id,
        reason=None,
        now=clock.now,
    )
    await session.commit()
    assert [e[2] for e in await events(session)] == ["interview.booked"]
