"""One conference link per interview: the booking mails wait for the provider's link.

Google answers the insert before the Meet conference exists (createRequest "pending"); the
booking's mails are queued before that, and are delivered first. Everyone must still end
with the same Meet link: in the API, in every mail, every invite and every calendar copy.
"""

from __future__ import annotations

import asyncio
import re
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.db import create_session_factory
from app.models import (
    CalendarProvider,
    Interview,
    OutboxMessage,
    OutboxStatus,
    Participant,
    SyncState,
)
from app.outbox.processing import Outcome
from app.outbox.topics import MAIL_TOPIC, SYNC_TOPIC
from app.workers.background import Background
from app.workers.options import WorkerOptions
from tests.calendars.conftest import Fakes
from tests.calendars.drain import Drainer, MailBox
from tests.calendars.test_freebusy import connect
from tests.conftest import Clock, GraphQLClient
from tests.factories import book_first_slot, make_interview, make_world
from tests.workers.conftest import all_done, eventually

GOOGLE, MICROSOFT = CalendarProvider.GOOGLE, CalendarProvider.MICROSOFT
INTERVIEW = """query($id: ID!) { interview(id: $id) { conference { url provider } } }"""
NOTIFICATIONS = """{ notifications(first: 50) { edges { node { kind message } } } }"""
LINK = re.compile(r"https://[\w.-]+/[\w/-]+")


def links_in(mail: EmailMessage) -> set[str]:
    """Every URL in every text part of the mail, the invite included."""
    found: set[str] = set()
    for part in mail.walk():
        if part.get_content_maintype() == "multipart":
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            # Unfold iCalendar lines first: a long URL may be split over two.
            text = payload.decode(errors="replace").replace("\r\n ", "").replace("\n ", "")
            found |= set(LINK.findall(text))
    return found


async def test_meet_link_arriving_after_the_mails_are_queued_is_the_only_link(
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    fakes: Fakes,
    clock: Clock,
    gql: GraphQLClient,
) -> None:
    world = await make_world(session)
    side = world.a
    await connect(session, settings, fakes, side.member, GOOGLE)  # the requester
    await connect(session, settings, fakes, side.colleague, MICROSOFT)
    await session.commit()
    fakes.google.conferences_pending = True
    interview = await make_interview(
        session, settings, side, clock.now, participants=[side.member, side.colleague]
    )
    drainer = Drainer.start(settings)
    try:
        await drainer.drain(MAIL_TOPIC)  # the request's mails, which show no link
        drainer.mail.sent.clear()
        booked = await book_first_slot(session, settings, side, interview, clock.now)
        fallback = booked.conference_url
        assert fallback and booked.conference_pending_since is not None

        # The mails are due first: each waits, without spending an attempt.
        waited = await drainer.once(MAIL_TOPIC)
        assert waited and {r.outcome for r in waited} == {Outcome.DEFERRED}
        assert drainer.mail.sent == []
        # The sync writes the requester's event; Google's Meet link is still pending.
        await drainer.once(SYNC_TOPIC)
        assert fakes.google.events(side.member.email), "the event exists, without its link yet"
        assert not fakes.microsoft.events(side.colleague.email), "others wait for the link"
        await drainer.once(MAIL_TOPIC)
        assert drainer.mail.sent == []
        # Google finishes the conference; the next pass reads it and everything follows.
        fakes.google.finish_conferences()
        await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)
    finally:
        await drainer.close()

    async with create_session_factory(engine)() as fresh:
        interview_now = await fresh.get(Interview, booked.id)
        rows = list(await fresh.scalars(select(OutboxMessage)))
        await fresh.commit()
    assert interview_now is not None
    meet = interview_now.conference_url
    assert meet and meet.startswith("https://meet.google.com/") and meet != fallback
    assert interview_now.conference_pending_since is None

    # The API.
    shown = await gql(INTERVIEW, {"id": str(booked.id)}, token=world.token(side.candidate))
    assert shown["data"]["interview"]["conference"] == {"url": meet, "provider": "google_meet"}
    for person in (side.candidate, side.member, side.colleague, side.manager):
        body = await gql(NOTIFICATIONS, token=world.token(person))
        booked_texts = [
            e["node"]["message"]
            for e in body["data"]["notifications"]["edges"]
            if e["node"]["kind"] == "INTERVIEW_BOOKED"
        ]
        assert booked_texts and all(meet in t and fallback not in t for t in booked_texts)

    # Every mail and invite: only the Meet link (besides Roundtable's own page links).
    booking_mails = [m for m in drainer.mail.sent if "booked" in str(m["Subject"]).lower()]
    assert {str(m["To"]) for m in booking_mails} >= {
        side.candidate.email,
        side.member.email,
        side.colleague.email,
        side.manager.email,
    }
    for mail in booking_mails:
        conference_links = {u for u in links_in(mail) if not u.startswith(settings.public_url)}
        assert conference_links == {meet}, (mail["To"], conference_links)
    invites = [
        m
        for m in drainer.mail.sent
        if any(p.get_content_type() == "text/calendar" for p in m.walk())
    ]
    assert invites, "the candidate gets an invite"

    # Every calendar copy.
    [own] = fakes.google.events(side.member.email)
    assert own["hangoutLink"] == meet
    [theirs] = fakes.microsoft.events(side.colleague.email)
    assert meet in theirs["body"]["content"] and fallback not in theirs["body"]["content"]

    assert {r.status for r in rows} == {OutboxStatus.DONE}
    # Waiting spent no attempt: each mail was sent on its first counted attempt.
    assert all(r.attempts == 1 for r in rows if r.topic == MAIL_TOPIC)


async def test_when_the_provider_never_answers_the_fallback_link_is_the_only_link(
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    fakes: Fakes,
    clock: Clock,
) -> None:
    world = await make_world(session)
    side = world.a
    await connect(session, settings, fakes, side.member, GOOGLE)
    await session.commit()
    interview = await make_interview(session, settings, side, clock.now)
    drainer = Drainer.start(settings)
    try:
        await drainer.drain(MAIL_TOPIC)
        drainer.mail.sent.clear()
        fakes.google.faults.fail_next(503, times=100)
        booked = await book_first_slot(session, settings, side, interview, clock.now)
        await drainer.drain(SYNC_TOPIC, MAIL_TOPIC)
    finally:
        await drainer.close()

    async with create_session_factory(engine)() as fresh:
        found = await fresh.get(Interview, booked.id)
        member = await fresh.scalar(
            select(Participant).where(Participant.user_id == side.member.id)
        )
        await fresh.commit()
    assert found is not None and found.conference_pending_since is None
    assert found.conference_url == booked.conference_url
    # The member's attempts ran out: FAILED, with the reason, never PENDING for ever.
    assert member is not None and member.sync_state is SyncState.FAILED
    assert member.sync_error and "gave up" in member.sync_error
    booking_mails = [m for m in drainer.mail.sent if "booked" in str(m["Subject"]).lower()]
    assert booking_mails
    for mail in booking_mails:
        links = {u for u in links_in(mail) if not u.startswith(settings.public_url)}
        assert links == {booked.conference_url}


async def test_through_the_workers_mails_wait_without_spending_their_retries(
    session: AsyncSession,
    engine: AsyncEngine,
    settings: Settings,
    fakes: Fakes,
    clock: Clock,
) -> None:
    """With Dramatiq (in-memory broker) and the relay: dozens of waits, two attempts allowed."""
    world = await make_world(session)
    side = world.a
    await connect(session, settings, fakes, side.member, GOOGLE)
    await session.commit()
    interview = await make_interview(session, settings, side, clock.now)
    fakes.google.conferences_pending = True
    booked = await book_first_slot(session, settings, side, interview, clock.now)

    mailbox = MailBox()
    background = Background(
        settings.model_copy(
            update={"conference_wait_poll_seconds": 0.05, "reminder_after_hours": 24 * 365 * 50}
        ),
        in_process_worker=True,
        options=WorkerOptions(
            min_backoff_seconds=0.05,
            max_backoff_seconds=0.2,
            sweep_interval_seconds=0.2,
            republish_after_seconds=300,  # a dropped message would not come back in time
            max_attempts=2,
            embedded_threads=2,
        ),
        transport=mailbox,
    )
    await asyncio.to_thread(background.start)
    try:
        background.wake()

        async def waited_often() -> bool:
            async with create_session_factory(engine)() as fresh:
                rows = list(await fresh.scalars(select(OutboxMessage)))
                await fresh.commit()
            return any("waiting for" in (r.last_error or "") for r in rows)

        await eventually(waited_often, what="booking mails waiting for the Meet link")
        await asyncio.sleep(1.0)  # about twenty waits each, with two attempts allowed
        fakes.google.finish_conferences()
        # The sync asks Google again after its Retry-After (5 s); then the mails go.
        await eventually(all_done(engine), what="every row delivered", deadline_seconds=30)
    finally:
        await asyncio.to_thread(background.stop)
    async with create_session_factory(engine)() as fresh:
        found = await fresh.get(Interview, booked.id)
        await fresh.commit()
    assert found is not None and (found.conference_url or "").startswith("https://meet.google")
    booking_mails = [m for m in mailbox.sent if "booked" in str(m["Subject"]).lower()]
    assert booking_mails
    for mail in booking_mails:
        links = {u for u in links_in(mail) if not u.startswith(settings.public_url)}
        assert links == {found.conference_url}
