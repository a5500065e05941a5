"""Every kind of mail a whole interview produces renders, in each reader's own zone."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import load_viewer
from app.config import Settings
from app.db import begin_write
from app.models import OutboxMessage
from app.notifications.facts import MailIntent, load_interview_facts, superseded
from app.notifications.kinds import InviteMethod, MessageKind
from app.notifications.mail import render_mail
from app.scheduling import booking, requests
from tests.conftest import Clock
from tests.factories import book_first_slot, local_windows, make_interview, make_world

GUEST = "guest@outside.example"


async def test_every_mail_of_an_interview_renders_in_the_readers_zone(
    session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    await begin_write(session)
    world = await make_world(session)
    side = world.a
    await begin_write(session)
    first = await make_interview(session, settings, side, clock.now, invite_emails=[GUEST])
    member = await load_viewer(session, side.member)
    await begin_write(session)
    await requests.update_availability(
        session=session,
        viewer=member,
        settings=settings,
        interview_id=first.id,
        windows=local_windows(
            clock.now + timedelta(days=4), first.time_zone, [("10:00", "12:00"), ("15:00", "16:00")]
        ),
        notify_participants=True,
        now=clock.now,
    )
    await session.commit()
    await begin_write(session)
    await booking.request_alternative_times(
        session=session,
        viewer=await load_viewer(session, side.candidate),
        interview_id=first.id,
        message="Evenings suit me better",
    )
    await session.commit()
    await begin_write(session)
    await book_first_slot(session, settings, side, first, clock.now)
    await begin_write(session)
    await requests.cancel_interview(
        session=session, viewer=member, interview_id=first.id, reason="moved", now=clock.now
    )
    await session.commit()
    await begin_write(session)
    await requests.hire_candidate(
        session=session, viewer=member, proposal_id=side.proposal.id, now=clock.now
    )
    await session.commit()

    rows = list(
        await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.topic == "mail")
            .order_by(OutboxMessage.created_at)
        )
    )
    kinds = {r.payload["kind"] for r in rows}
    assert kinds >= {
        MessageKind.INTERVIEW_REQUESTED,
        MessageKind.ADDED_TO_INTERVIEW,
        MessageKind.REQUEST_SENT,
        MessageKind.TIMES_UPDATED,
        MessageKind.ALTERNATIVE_TIMES_REQUESTED,
        MessageKind.INTERVIEW_BOOKED,
        MessageKind.INTERVIEW_CANCELLED,
        MessageKind.CANDIDATE_HIRED,
    }
    zones = {"UTC", "Asia/Kolkata", "America/New_York", "Europe/London"}
    for row in rows:
        intent = MailIntent.from_payload(row.id, row.created_at, row.payload)
        facts = (
            await load_interview_facts(session, intent.interview_id)
            if intent.interview_id
            else None
        )
        mail = render_mail(intent, facts, settings)
        text, html = mail.get_body(("plain",)), mail.get_body(("html",))
        assert text is not None and html is not None, intent.kind
        content = str(text.get_content())
        assert str(mail["Subject"]) and mail["To"] == intent.to
        others = zones - {intent.time_zone}
        assert not [z for z in others if f"({z}, UTC" in content], (intent.kind, intent.to)
        if intent.kind == MessageKind.ALTERNATIVE_TIMES_REQUESTED:
            assert '"Evenings suit me better"' in content
        if intent.kind == MessageKind.TIMES_UPDATED and intent.to == side.candidate.email:
            assert f"Select an interview time: {settings.public_url}/links/" in content
            local = ZoneInfo("Asia/Kolkata")
            day = (clock.now + timedelta(days=4)).astimezone(local)
            assert f"{day:%a %d %b %Y}" in content or "Asia/Kolkata" in content

    booked_invites = [r for r in rows if r.payload["invite"] == InviteMethod.REQUEST.value]
    assert booked_invites, "the booking mailed invites"
    facts = await load_interview_facts(session, first.id)
    for row in booked_invites:
        intent = MailIntent.from_payload(row.id, row.created_at, row.payload)
        assert superseded(intent, facts) == (
            "the booking was cancelled before its invite went out"
        ), "an invite still queued after its cancellation is not sent"
