"""The rules this wording rests on: rounds count rounds, past interviews stay, hiring decides
about a booked interview explicitly, the candidate's zone is remembered, and in-app texts are
written when read."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import load_viewer
from app.config import Settings
from app.db import begin_write
from app.models import Interview, InterviewStatus, Notification, OutboxMessage, Project
from app.notifications.kinds import MessageKind
from app.scheduling import requests
from tests.conftest import Clock, GraphQLClient
from tests.factories import World, book_first_slot, make_interview, make_world

CANCEL = """mutation($input: CancelInterviewInput!) { cancelInterview(input: $input) {
  interview { id status } errors { code field message } } }"""
RESCHEDULE = """mutation($input: RescheduleInterviewInput!) { rescheduleInterview(input: $input) {
  interview { id round } errors { code field message } } }"""
HIRE = """mutation($id: ID!) { hireCandidate(proposalId: $id) {
  proposal { status interviews { id status } } errors { code message } } }"""
HIRE_CANCELLING = """mutation($id: ID!) {
  hireCandidate(proposalId: $id, upcomingInterviews: CANCEL) {
  proposal { status interviews { id status } } errors { code message } } }"""
NOTIFICATIONS = """query($kinds: [String!]) { notifications(kinds: $kinds) {
  edges { node { kind message } } } }"""


@pytest.fixture
async def world(session: AsyncSession) -> World:
    return await make_world(session)


UPDATE_ME = """mutation($tz: String!) { updateMe(input: {timeZone: $tz}) { errors { message } } }"""


async def _mails(session: AsyncSession, kind: str) -> list[OutboxMessage]:
    rows = await session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "mail"))
    found = [r for r in rows if r.payload["kind"] == kind]
    await session.commit()
    return found


async def test_a_request_cancelled_before_booking_gives_its_round_back(
    session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    world = await make_world(session)
    side = world.a
    withdrawn = await make_interview(session, settings, side, clock.now)
    member = await load_viewer(session, side.member)
    await session.commit()
    await begin_write(session)
    await requests.cancel_interview(
        session=session, viewer=member, interview_id=withdrawn.id, reason=None, now=clock.now
    )
    await session.commit()
    again = await make_interview(session, settings, side, clock.now)
    assert (withdrawn.round, again.round) == (1, 1)
    await book_first_slot(session, settings, side, again, clock.now)
    nxt = await make_interview(
        session, settings, side, clock.now + timedelta(days=1), participants=[side.colleague]
    )
    assert nxt.round == 2, "round 1 took place (booked); the next is round 2"


async def test_a_reschedule_keeps_its_round_and_the_next_round_follows_it(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    side = world.a
    first = await make_interview(session, settings, side, clock.now)
    await book_first_slot(session, settings, side, first, clock.now)
    day = (clock.now + timedelta(days=6)).date().isoformat()
    body = await gql(
        RESCHEDULE,
        {
            "input": {
                "interviewId": str(first.id),
                "timeZone": "America/New_York",
                "windows": [
                    {"start": f"{day}T09:00", "end": f"{day}T10:00"},
                    {"start": f"{day}T13:00", "end": f"{day}T14:00"},
                ],
            }
        },
        token=world.token(side.member),
    )
    assert body["data"]["rescheduleInterview"]["interview"]["round"] == 1
    later = await make_interview(session, settings, side, clock.now, participants=[side.colleague])
    assert later.round == 2
    rounds = await session.scalar(
        select(func.count(func.distinct(Interview.round))).where(
            Interview.proposal_id == side.proposal.id
        )
    )
    await session.commit()
    assert rounds == 2


async def test_an_interview_that_took_place_cannot_be_cancelled_or_rescheduled(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    side = world.a
    interview = await make_interview(session, settings, side, clock.now)
    booked = await book_first_slot(session, settings, side, interview, clock.now)
    assert booked.booked_end is not None
    mails_before = len(await _mails(session, MessageKind.INTERVIEW_CANCELLED))
    clock.now = booked.booked_end  # it has just ended
    for who in (side.member, side.candidate, side.manager):
        body = await gql(
            CANCEL, {"input": {"interviewId": str(interview.id)}}, token=world.token(who)
        )
        payload = body["data"]["cancelInterview"]
        assert payload["interview"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [
            ("INVALID_STATE", "interviewId")
        ]
        assert "already taken place" in payload["errors"][0]["message"]
    day = (clock.now + timedelta(days=3)).date().isoformat()
    body = await gql(
        RESCHEDULE,
        {
            "input": {
                "interviewId": str(interview.id),
                "timeZone": "UTC",
                "windows": [
                    {"start": f"{day}T09:00", "end": f"{day}T10:00"},
                    {"start": f"{day}T13:00", "end": f"{day}T14:00"},
                ],
            }
        },
        token=world.token(side.member),
    )
    assert body["data"]["rescheduleInterview"]["errors"][0]["code"] == "INVALID_STATE"
    await session.refresh(interview)
    assert interview.status is InterviewStatus.BOOKED
    assert len(await _mails(session, MessageKind.INTERVIEW_CANCELLED)) == mails_before


async def test_hiring_keeps_a_booked_interview_unless_asked_and_tells_everyone(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    side = world.a
    booked = await make_interview(session, settings, side, clock.now)
    await book_first_slot(session, settings, side, booked, clock.now)
    pending = await make_interview(
        session, settings, side, clock.now + timedelta(days=2), participants=[side.colleague]
    )
    # The contract's call, without the new argument: the booked interview is kept.
    body = await gql(HIRE, {"id": str(side.proposal.id)}, token=world.token(side.member))
    proposal = body["data"]["hireCandidate"]["proposal"]
    statuses = {i["id"]: i["status"] for i in proposal["interviews"]}
    assert proposal["status"] == "HIRED"
    assert statuses == {str(booked.id): "BOOKED", str(pending.id): "CANCELLED"}
    hired = await _mails(session, MessageKind.CANDIDATE_HIRED)
    told = {r.payload["to"] for r in hired}
    assert told == {
        side.candidate.email,
        side.member.email,
        side.colleague.email,
        side.manager.email,
    }, "the candidate, the team of both rounds and the account manager"
    assert not await _mails(session, MessageKind.INTERVIEW_CANCELLED), (
        "nobody reads about a cancellation: the hire message says what became of each round"
    )
    [candidate_note] = list(
        await session.scalars(
            select(Notification).where(
                Notification.user_id == side.candidate.id,
                Notification.kind == MessageKind.CANDIDATE_HIRED,
            )
        )
    )
    await session.commit()
    assert candidate_note.facts is not None and candidate_note.facts["kept_booking"]
    texts = await gql(
        NOTIFICATIONS, {"kinds": ["CANDIDATE_HIRED"]}, token=world.token(side.candidate)
    )
    [text] = [e["node"]["message"] for e in texts["data"]["notifications"]["edges"]]
    assert "would like to hire you" in text and "stays as planned" in text
    assert "cancel" not in text.lower()


async def test_hiring_can_cancel_the_booked_interview(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    side = world.a
    booked = await make_interview(session, settings, side, clock.now)
    await book_first_slot(session, settings, side, booked, clock.now)
    body = await gql(HIRE_CANCELLING, {"id": str(side.proposal.id)}, token=world.token(side.member))
    statuses = [i["status"] for i in body["data"]["hireCandidate"]["proposal"]["interviews"]]
    assert statuses == ["CANCELLED"]
    hired = await _mails(session, MessageKind.CANDIDATE_HIRED)
    invites = {r.payload["to"]: r.payload["invite"] for r in hired}
    assert invites[side.candidate.email] == "CANCEL"
    assert invites[side.member.email] == "CANCEL"
    assert invites[side.manager.email] is None
    assert {r.payload["invite_interview_id"] for r in hired} == {str(booked.id)}


async def test_in_app_texts_are_written_when_read_in_the_readers_zone_of_now(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    side = world.a
    interview = await make_interview(session, settings, side, clock.now)
    await book_first_slot(session, settings, side, interview, clock.now)

    async def booked_text() -> str:
        body = await gql(
            NOTIFICATIONS, {"kinds": ["INTERVIEW_BOOKED"]}, token=world.token(side.member)
        )
        [text] = [e["node"]["message"] for e in body["data"]["notifications"]["edges"]]
        return str(text)

    before = await booked_text()
    assert "(America/New_York, UTC-0500)" in before
    await gql(UPDATE_ME, {"tz": "Asia/Kathmandu"}, token=world.token(side.member))
    after = await booked_text()
    assert "(Asia/Kathmandu, UTC+0545)" in after and "America/New_York" not in after
    # The meeting link as it is now (a provider's link may replace the first one).
    await begin_write(session)
    row = await session.get(Interview, interview.id)
    assert row is not None
    old_link, row.conference_url = row.conference_url, "https://meet.example.com/new-room"
    await session.commit()
    latest = await booked_text()
    assert "Join the interview: https://meet.example.com/new-room" in latest
    assert str(old_link) not in latest


async def test_a_manager_moved_off_the_project_keeps_the_old_words_not_the_current_facts(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    side = world.a
    interview = await make_interview(session, settings, side, clock.now)
    await book_first_slot(session, settings, side, interview, clock.now)
    await begin_write(session)
    project = await session.get(Project, side.project.id)
    assert project is not None
    project.account_manager_id = world.b.manager.id  # another manager serves it now
    await session.commit()
    body = await gql(
        NOTIFICATIONS, {"kinds": ["INTERVIEW_BOOKED"]}, token=world.token(side.manager)
    )
    [text] = [e["node"]["message"] for e in body["data"]["notifications"]["edges"]]
    stored = await session.scalar(
        select(Notification.message).where(
            Notification.user_id == side.manager.id,
            Notification.kind == MessageKind.INTERVIEW_BOOKED,
        )
    )
    await session.commit()
    assert text == stored, "what was written then, not the interview as it is now"


NODES = """query($ids: [ID!]!) { nodes(ids: $ids) { ... on Notification { kind message } } }"""


async def _message_statements(
    gql: GraphQLClient, world: World, session: AsyncSession, count_queries: Any
) -> tuple[int, list[str]]:
    ids = [
        str(i)
        for i in await session.scalars(
            select(Notification.id).where(Notification.user_id == world.a.manager.id)
        )
    ]
    await session.commit()
    token = world.token(world.a.manager)
    await gql(NODES, {"ids": ids[:1]}, token=token)  # the token's use of the minute
    with count_queries() as counter:
        body = await gql(NODES, {"ids": ids}, token=token)
    texts = [node["message"] for node in body["data"]["nodes"]]
    return counter.count, texts


async def test_notifications_reached_by_id_are_written_in_a_bounded_number_of_statements(
    gql: GraphQLClient,
    world: World,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    count_queries: Any,
) -> None:
    side = world.a
    first = await make_interview(session, settings, side, clock.now)
    few, texts = await _message_statements(gql, world, session, count_queries)
    assert texts and all("(Europe/London, UTC+0000)" in t for t in texts)
    for days in (1, 2, 4):
        await make_interview(
            session, settings, side, clock.now + timedelta(days=days), participants=[side.colleague]
        )
    await book_first_slot(session, settings, side, first, clock.now)
    many, texts = await _message_statements(gql, world, session, count_queries)
    assert len(texts) >= 5
    assert many == few
