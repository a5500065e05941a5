"""Moving a booked interview to another offered slot: one step, atomic, told once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import httpx
import pytest
from icalendar import Calendar
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import (
    Interview,
    Notification,
    OutboxMessage,
    Participant,
    SlotReservation,
    SyncState,
)
from app.notifications.facts import MailIntent, load_interview_facts
from app.notifications.mail import render_mail
from app.scheduling.moving import MoveRules, move_refusal
from app.scheduling.windows import WindowText
from tests.conftest import Clock, GraphQLClient, make_settings
from tests.factories import World, another_candidate, book_first_slot, make_interview, make_world
from tests.test_links import link, post, token_for

BOOK = """mutation($input: BookInterviewInput!) { bookInterview(input: $input) {
  interview { id status bookedStart } errors { code field message } } }"""
MOVE = """mutation($input: MoveBookingInput!) { moveBooking(input: $input) {
  interview { id status bookedStart bookedEnd moveCount conference { url } }
  errors { code field message } } }"""

WINDOWS = [
    WindowText("2026-03-05T09:00", "2026-03-05T10:00"),
    WindowText("2026-03-06T09:00", "2026-03-06T10:00"),
]


@pytest.fixture
async def world(session: AsyncSession) -> World:
    return await make_world(session)


@pytest.fixture
async def booked(
    world: World, session: AsyncSession, settings: Settings, clock: Clock, gql: GraphQLClient
) -> Interview:
    interview = await make_interview(
        session,
        settings,
        world.a,
        clock.now,
        windows=WINDOWS,
        time_zone="UTC",
        participants=[world.a.member, world.a.colleague],
        invite_emails=["guest@outside.com"],
    )
    body = await gql(
        BOOK,
        {
            "input": {
                "interviewId": str(interview.id),
                "start": "2026-03-05T09:00:00Z",
                "timeZone": "UTC",
            }
        },
        token=world.token(world.a.candidate),
    )
    assert body["data"]["bookInterview"]["errors"] == []
    return interview


async def move(
    gql: GraphQLClient, world: World, interview_id: Any, start: str, who: Any
) -> dict[str, Any]:
    body = await gql(
        MOVE,
        {"input": {"interviewId": str(interview_id), "start": start, "timeZone": "UTC"}},
        token=world.token(who),
    )
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["moveBooking"]
    return result


async def written(session: AsyncSession) -> tuple[int, int, list[tuple[datetime, datetime]]]:
    notes = await session.scalar(select(func.count()).select_from(Notification)) or 0
    rows = await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
    held = sorted((r.starts_at, r.ends_at) for r in await session.scalars(select(SlotReservation)))
    await session.commit()
    return notes, rows, held


async def moved_mails(session: AsyncSession) -> list[OutboxMessage]:
    rows = await session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == "mail").order_by(OutboxMessage.id)
    )
    return [r for r in rows if r.payload["kind"] == "INTERVIEW_MOVED"]


async def test_the_candidate_moves_the_booking_and_everyone_is_told_once(
    gql: GraphQLClient, world: World, booked: Interview, session: AsyncSession
) -> None:
    result = await move(gql, world, booked.id, "2026-03-06T09:30:00Z", world.a.candidate)
    assert result["errors"] == []
    interview = result["interview"]
    assert (interview["bookedStart"], interview["bookedEnd"], interview["moveCount"]) == (
        "2026-03-06T09:30:00+00:00",
        "2026-03-06T10:00:00+00:00",
        1,
    )
    participants = await session.scalars(
        select(Participant.sync_state).where(Participant.interview_id == booked.id)
    )
    assert set(participants) == {SyncState.PENDING}
    held = await session.scalars(
        select(SlotReservation).where(SlotReservation.interview_id == booked.id)
    )
    assert {(r.starts_at, r.ends_at) for r in held} == {
        (datetime(2026, 3, 6, 9, 30, tzinfo=UTC), datetime(2026, 3, 6, 10, tzinfo=UTC))
    }
    mails = await moved_mails(session)
    assert {m.payload["to"]: m.payload["invite"] for m in mails} == {
        world.a.candidate.email: "REQUEST",
        world.a.member.email: "REQUEST",
        world.a.colleague.email: "REQUEST",
        "guest@outside.com": "REQUEST",
        world.a.manager.email: None,
    }
    assert len(mails) == 5  # once each
    syncs = await session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == "calendar_sync")
    )
    assert len(list(syncs)) == 2  # the booking's and the move's


async def test_the_moved_invite_is_the_same_event_with_a_higher_sequence(
    gql: GraphQLClient, world: World, booked: Interview, session: AsyncSession, settings: Settings
) -> None:
    await move(gql, world, booked.id, "2026-03-06T09:00:00Z", world.a.candidate)
    rows = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "mail")))

    def invite_of(kind: str) -> Any:
        row = next(
            r
            for r in rows
            if r.payload["kind"] == kind and r.payload["to"] == world.a.candidate.email
        )
        return row

    events = []
    for kind in ("INTERVIEW_BOOKED", "INTERVIEW_MOVED"):
        row = invite_of(kind)
        intent = MailIntent.from_payload(row.id, row.created_at, row.payload)
        facts = await load_interview_facts(session, intent.interview_id)  # type: ignore[arg-type]
        mail = render_mail(intent, facts, settings)
        part = next(
            p
            for p in message_from_bytes(mail.as_bytes()).walk()
            if p.get_content_type() == "application/ics"
        )
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        events.append((Calendar.from_ical(payload).walk("VEVENT")[0], mail))
    (booked_event, _), (moved_event, moved_mail) = events
    assert booked_event["UID"] == moved_event["UID"]
    assert int(moved_event["SEQUENCE"]) == int(booked_event["SEQUENCE"]) + 1
    assert moved_event.decoded("DTSTART") == datetime(2026, 3, 6, 9, tzinfo=UTC)
    text = moved_mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Before: " in text and "Now: " in text


async def test_the_team_and_the_account_manager_may_move_it_too(
    gql: GraphQLClient, world: World, booked: Interview, session: AsyncSession
) -> None:
    by_member = await move(gql, world, booked.id, "2026-03-05T09:30:00Z", world.a.colleague)
    assert by_member["errors"] == []
    by_manager = await move(gql, world, booked.id, "2026-03-06T09:00:00Z", world.a.manager)
    assert by_manager["errors"] == []
    notes = list(
        await session.scalars(
            select(Notification.message).where(Notification.kind == "INTERVIEW_MOVED")
        )
    )
    assert any("(account manager) moved the interview" in n for n in notes)


async def test_others_cannot_move_it(
    gql: GraphQLClient, world: World, booked: Interview, session: AsyncSession
) -> None:
    before = await written(session)
    other_team = await move(gql, world, booked.id, "2026-03-06T09:00:00Z", world.b.member)
    other_candidate = await move(gql, world, booked.id, "2026-03-06T09:00:00Z", world.b.candidate)
    assert [e["code"] for e in other_team["errors"]] == ["NOT_FOUND"]
    assert [e["code"] for e in other_candidate["errors"]] == ["NOT_FOUND"]
    assert await written(session) == before


async def test_a_new_slot_taken_meanwhile_keeps_the_old_booking(
    gql: GraphQLClient,
    world: World,
    booked: Interview,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    # Another candidate of the same team books the member for Thursday 09:30.
    side = await another_candidate(session, world.a)
    other = await make_interview(
        session,
        settings,
        side,
        clock.now,
        windows=[WindowText("2026-03-05T09:30", "2026-03-05T10:00"), WINDOWS[1]],
        time_zone="UTC",
        participants=[world.a.colleague],
    )
    await book_first_slot(session, settings, side, other, clock.now)
    before = await written(session)
    result = await move(gql, world, booked.id, "2026-03-05T09:00:00Z", world.a.candidate)
    assert result["errors"] == []  # the same slot again: nothing to do
    result = await move(gql, world, booked.id, "2026-03-05T09:30:00Z", world.a.candidate)
    assert [(e["code"], e["field"]) for e in result["errors"]] == [("SLOT_UNAVAILABLE", "start")]
    assert "stays at" in result["errors"][0]["message"]
    assert await written(session) == before


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        ("2026-03-05T09:15:00Z", "not a slot"),
        ("2026-03-07T09:00:00Z", "outside the windows"),
    ],
)
async def test_a_time_not_offered_is_refused_and_changes_nothing(
    gql: GraphQLClient,
    world: World,
    booked: Interview,
    session: AsyncSession,
    start: str,
    reason: str,
) -> None:
    before = await written(session)
    result = await move(gql, world, booked.id, start, world.a.candidate)
    assert [e["code"] for e in result["errors"]] == ["SLOT_UNAVAILABLE"], reason
    assert await written(session) == before


async def test_moving_is_refused_inside_the_cutoff(
    gql: GraphQLClient, world: World, booked: Interview, session: AsyncSession, clock: Clock
) -> None:
    clock.now = datetime(2026, 3, 4, 9, 0, 1, tzinfo=UTC)  # 23:59:59 before the start
    before = await written(session)
    result = await move(gql, world, booked.id, "2026-03-06T09:00:00Z", world.a.candidate)
    assert [(e["code"], e["field"]) for e in result["errors"]] == [("INVALID_STATE", "interviewId")]
    assert "24 hours" in result["errors"][0]["message"]
    assert await written(session) == before
    clock.now = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)  # exactly 24 hours: still allowed
    assert (await move(gql, world, booked.id, "2026-03-06T09:00:00Z", world.a.candidate))[
        "errors"
    ] == []


async def test_the_fourth_move_is_refused(
    gql: GraphQLClient, world: World, booked: Interview, session: AsyncSession
) -> None:
    for start in ("2026-03-05T09:30:00Z", "2026-03-06T09:00:00Z", "2026-03-06T09:30:00Z"):
        assert (await move(gql, world, booked.id, start, world.a.candidate))["errors"] == []
    before = await written(session)
    result = await move(gql, world, booked.id, "2026-03-05T09:00:00Z", world.a.member)
    assert [e["code"] for e in result["errors"]] == ["INVALID_STATE"]
    assert "3 times" in result["errors"][0]["message"]
    assert await written(session) == before


async def test_only_a_booked_interview_can_be_moved(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    pending = await make_interview(
        session, settings, world.a, clock.now, windows=WINDOWS, time_zone="UTC"
    )
    result = await move(gql, world, pending.id, "2026-03-05T09:00:00Z", world.a.candidate)
    assert [e["code"] for e in result["errors"]] == ["INVALID_STATE"]


async def test_a_bad_zone_or_a_naive_start_is_a_validation_error(
    gql: GraphQLClient, world: World, booked: Interview
) -> None:
    body = await gql(
        MOVE,
        {
            "input": {
                "interviewId": str(booked.id),
                "start": "2026-03-06T09:00:00Z",
                "timeZone": "Mars/Olympus",
            }
        },
        token=world.token(world.a.candidate),
    )
    assert [e["field"] for e in body["data"]["moveBooking"]["errors"]] == ["timeZone"]


async def test_a_move_across_a_dst_change_keeps_the_local_times_of_each_reader(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    # US clocks go forward on Sunday 2026-03-08: Friday 09:00 EST is 14:00Z, Monday's 13:00Z.
    interview = await make_interview(
        session,
        settings,
        world.a,
        clock.now,
        time_zone="America/New_York",
        windows=[
            WindowText("2026-03-06T09:00", "2026-03-06T10:00"),
            WindowText("2026-03-09T09:00", "2026-03-09T10:00"),
        ],
    )
    body = await gql(
        BOOK,
        {
            "input": {
                "interviewId": str(interview.id),
                "start": "2026-03-06T14:00:00Z",
                "timeZone": "Asia/Kolkata",  # saved to the profile: mails use it
            }
        },
        token=world.token(world.a.candidate),
    )
    assert body["data"]["bookInterview"]["errors"] == []
    result = await move(gql, world, interview.id, "2026-03-09T13:00:00Z", world.a.candidate)
    assert result["errors"] == []
    assert result["interview"]["bookedEnd"] == "2026-03-09T13:30:00+00:00"
    mails = {m.payload["to"]: m for m in await moved_mails(session)}
    for to, local in (
        (world.a.member.email, "09:00"),  # New York, before and after
        (world.a.candidate.email, "18:30"),  # Kolkata (+05:30): 19:30 before, 18:30 after
    ):
        row = mails[to]
        intent = MailIntent.from_payload(row.id, row.created_at, row.payload)
        facts = await load_interview_facts(session, interview.id)
        text = render_mail(intent, facts, settings).get_body(("plain",)).get_content()  # type: ignore[union-attr]
        now_line = next(line for line in text.splitlines() if line.startswith("Now: "))
        assert local in now_line, (to, text)
    before_line = next(
        line
        for line in render_mail(
            MailIntent.from_payload(
                mails[world.a.candidate.email].id,
                mails[world.a.candidate.email].created_at,
                mails[world.a.candidate.email].payload,
            ),
            await load_interview_facts(session, interview.id),
            settings,
        )
        .get_body(("plain",))
        .get_content()
        .splitlines()  # type: ignore[union-attr]
        if line.startswith("Before: ")
    )
    assert "19:30" in before_line


def test_move_refusal_rules() -> None:
    rules = MoveRules(cutoff=timedelta(hours=24), max_moves=3)
    start = datetime(2026, 3, 29, 9, tzinfo=UTC)
    assert (
        move_refusal(rules, booked_start=start, moves_so_far=0, now=start - timedelta(hours=24))
        is None
    )
    assert (
        move_refusal(
            rules, booked_start=start, moves_so_far=0, now=start - timedelta(hours=23, minutes=59)
        )
        is not None
    )
    assert (
        move_refusal(rules, booked_start=start, moves_so_far=2, now=start - timedelta(days=3))
        is None
    )
    assert (
        move_refusal(rules, booked_start=start, moves_so_far=3, now=start - timedelta(days=3))
        is not None
    )
    none = MoveRules(cutoff=timedelta(0), max_moves=0)
    assert move_refusal(none, booked_start=start, moves_so_far=0, now=start) is not None


async def test_the_settings_change_the_cutoff_and_the_limit() -> None:
    settings = make_settings("sqlite://", move_cutoff_hours=2, max_moves=1)
    assert (settings.move_cutoff_hours, settings.max_moves) == (2, 1)


async def test_the_candidate_moves_it_from_the_mail_link(
    client: httpx.AsyncClient,
    world: World,
    booked: Interview,
    session: AsyncSession,
    clock: Clock,
) -> None:
    token = await token_for(
        session, booked.id, world.a.candidate.email, expires_at=clock.now + timedelta(days=1)
    )
    body = await post(
        client,
        MOVE,
        {
            "input": {
                "interviewId": str(booked.id),
                "start": "2026-03-06T09:00:00Z",
                "timeZone": "UTC",
            }
        },
        **link(token),
    )
    assert body["data"]["moveBooking"]["errors"] == []
    assert body["data"]["moveBooking"]["interview"]["moveCount"] == 1


OPTIONS = """query($id: ID!) { moveOptions(interviewId: $id, timeZone: "Asia/Kolkata") {
  days { date slots { start } } } }"""


async def test_move_options_are_the_other_free_slots_in_the_readers_zone(
    gql: GraphQLClient, world: World, booked: Interview, clock: Clock
) -> None:
    body = await gql(OPTIONS, {"id": str(booked.id)}, token=world.token(world.a.candidate))
    starts = [s["start"] for d in body["data"]["moveOptions"]["days"] for s in d["slots"]]
    assert starts == [
        "2026-03-05T15:00:00+05:30",  # 09:30Z; 09:00Z is the booking itself
        "2026-03-06T14:30:00+05:30",
        "2026-03-06T15:00:00+05:30",
    ]
    team = await gql(OPTIONS, {"id": str(booked.id)}, token=world.token(world.a.manager))
    assert len(team["data"]["moveOptions"]["days"]) == 2
    other = await gql(OPTIONS, {"id": str(booked.id)}, token=world.token(world.b.member))
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    clock.now = datetime(2026, 3, 4, 12, tzinfo=UTC)
    late = await gql(OPTIONS, {"id": str(booked.id)}, token=world.token(world.a.candidate))
    assert late["errors"][0]["extensions"]["code"] == "INVALID_STATE"
