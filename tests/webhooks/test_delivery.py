"""Webhooks end to end: services emit, the embedded worker delivers to a real receiver."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.access import load_viewer
from app.config import Settings
from app.db import begin_write, create_session_factory
from app.models import OutboxMessage, OutboxStatus
from app.outbox.topics import WEBHOOK_TOPIC
from app.scheduling import booking, requests
from app.webhooks.endpoints import create_endpoint
from app.workers.background import Background
from app.workers.options import WorkerOptions
from tests.conftest import Clock, make_settings
from tests.factories import book_first_slot, local_windows, make_interview, make_world
from tests.webhooks.receiver import Receiver
from tests.workers.conftest import NEVER_HOURS, eventually

REQUESTED = "interview.requested"


@pytest.fixture
def hook_settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        webhook_allow_private=True,
        reminder_after_hours=NEVER_HOURS,
        mail_dir=tmp_path / "mail",
    )


def flaky(event: dict[str, Any], attempts: int, requests_so_far: int) -> int:
    """Down for the first four requests; each `interview.requested` fails three times, so
    the interview's later events are ready while its first is still failing."""
    if requests_so_far < 4 or (event["type"] == REQUESTED and attempts < 3):
        return 500
    return 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from Receiver.running(answer=flaky)


async def webhook_rows(engine: AsyncEngine) -> list[OutboxMessage]:
    async with create_session_factory(engine)() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.topic == WEBHOOK_TOPIC)
        )
        found = list(rows)
        await session.commit()
        return found


async def test_every_event_arrives_once_signed_and_in_each_interviews_order(
    session: AsyncSession,
    engine: AsyncEngine,
    hook_settings: Settings,
    clock: Clock,
    receiver: Receiver,
) -> None:
    # Given an endpoint for every event type, and a receiver that fails for a while
    await begin_write(session)
    world = await make_world(session)
    created = await create_endpoint(
        session=session, settings=hook_settings, by=world.admin, url=receiver.url, events=None
    )
    receiver.secret = created.secret
    await session.commit()

    # When two interviews each go through three changes and a candidate is hired
    await begin_write(session)
    first = await make_interview(session, hook_settings, world.a, clock.now)
    await begin_write(session)
    await book_first_slot(session, hook_settings, world.a, first, clock.now)
    await begin_write(session)
    await requests.cancel_interview(
        session=session,
        viewer=await load_viewer(session, world.a.member),
        interview_id=first.id,
        reason=None,
        now=clock.now,
    )
    await session.commit()
    await begin_write(session)
    second = await make_interview(session, hook_settings, world.b, clock.now)
    await begin_write(session)
    await booking.request_alternative_times(
        session=session,
        viewer=await load_viewer(session, world.b.candidate),
        interview_id=second.id,
        message="Mornings, please",
    )
    await session.commit()
    await begin_write(session)
    await requests.update_availability(
        session=session,
        viewer=await load_viewer(session, world.b.member),
        settings=hook_settings,
        interview_id=second.id,
        windows=local_windows(
            clock.now + timedelta(days=5),
            second.time_zone,
            [("09:00", "10:00"), ("11:00", "12:00")],
        ),
        notify_participants=False,
        now=clock.now,
    )
    await session.commit()
    await begin_write(session)
    await requests.hire_candidate(
        session=session,
        viewer=await load_viewer(session, world.a.member),
        proposal_id=world.a.proposal.id,
        now=clock.now,
    )
    await session.commit()

    rows = await webhook_rows(engine)
    emitted = {row.payload["event_id"] for row in rows}
    assert len(emitted) == len(rows) == 7

    # ... and the worker delivers them
    background = Background(
        hook_settings,
        in_process_worker=True,
        options=WorkerOptions(
            min_backoff_seconds=0.05,
            max_backoff_seconds=0.2,
            sweep_interval_seconds=0.2,
            max_attempts=10,
            embedded_threads=3,
        ),
    )
    await asyncio.to_thread(background.start)
    try:

        async def delivered() -> bool:
            found = await webhook_rows(engine)
            assert not [r.last_error for r in found if r.status is OutboxStatus.FAILED]
            return all(r.status is OutboxStatus.DONE for r in found)

        await eventually(delivered, what="every webhook delivered")
    finally:
        await asyncio.to_thread(background.stop)

    # Then every attempt was signed, failures were retried with the same id, and the
    # deduplicated feed holds each event once, in each interview's order
    assert all(item.signed for item in receiver.log)
    assert any(item.status == 500 for item in receiver.log)
    ids_by_content: dict[tuple[str, str], set[str]] = {}
    for item in receiver.log:
        key = (item.event["type"], str(item.event["data"]))
        ids_by_content.setdefault(key, set()).add(item.event["id"])
    assert all(len(ids) == 1 for ids in ids_by_content.values())
    accepted = receiver.accepted()
    assert {e["id"] for e in accepted} == emitted
    assert len(accepted) == len(emitted)

    def story(interview_id: object) -> list[str]:
        return [
            e["type"]
            for e in accepted
            if e["data"].get("interview", {}).get("id") == str(interview_id)
        ]

    assert story(first.id) == [REQUESTED, "interview.booked", "interview.cancelled"]
    assert story(second.id) == [
        REQUESTED,
        "interview.alternative_times_requested",
        "interview.updated",
    ]
    sequences = [e["data"]["sequence"] for e in accepted if e["data"].get("interview")]
    assert sorted(sequences) == [1, 1, 2, 2, 3, 3]
    assert [e["type"] for e in accepted].count("proposal.hired") == 1
