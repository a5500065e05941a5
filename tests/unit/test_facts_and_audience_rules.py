"""Whom a change is told, with which invite, and which queued mails no longer go out."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from app.models import (
    Interview,
    InterviewStatus,
    Participant,
    ParticipantKind,
    Project,
    Proposal,
    Role,
    User,
)
from app.notifications.facts import InterviewFacts, MailIntent, _uuid, superseded
from app.notifications.ical import Person
from app.notifications.kinds import InviteMethod, MessageKind
from app.notifications.service import Recipient
from app.scheduling import repository
from app.scheduling.audience import Audience, load_audience

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
OUTBOX_ID = uuid.uuid4()


def test_a_mail_intent_reads_its_payload_with_defaults() -> None:
    user_id, interview_id, grant_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    full = MailIntent.from_payload(
        OUTBOX_ID,
        T0,
        {
            "kind": "INTERVIEW_BOOKED",
            "to": "a@x.com",
            "time_zone": "Asia/Kolkata",
            "user_id": str(user_id),
            "interview_id": str(interview_id),
            "invite": "CANCEL",
            "sequence": 3,
            "message": "hello",
            "link_grant_id": str(grant_id),
        },
    )
    assert full == MailIntent(
        outbox_id=OUTBOX_ID,
        created_at=T0,
        kind="INTERVIEW_BOOKED",
        to="a@x.com",
        time_zone="Asia/Kolkata",
        user_id=user_id,
        interview_id=interview_id,
        invite=InviteMethod.CANCEL,
        sequence=3,
        message="hello",
        link_grant_id=grant_id,
    )
    bare = MailIntent.from_payload(
        OUTBOX_ID, T0, {"to": "b@x.com", "time_zone": None, "invite": ""}
    )
    assert bare == MailIntent(OUTBOX_ID, T0, "", "b@x.com", "UTC", None, None, None, None, "")
    with pytest.raises(KeyError):
        MailIntent.from_payload(OUTBOX_ID, T0, {})
    assert _uuid("") is None and _uuid(None) is None and _uuid(str(user_id)) == user_id


def facts(status: InterviewStatus, sequence: int = 1) -> InterviewFacts:
    candidate = Person("cand@x.com", "Cand")
    return InterviewFacts(
        interview_id=uuid.uuid4(),
        round=1,
        status=status,
        project_title="Engine",
        team_time_zone="UTC",
        candidate=candidate,
        candidate_id=uuid.uuid4(),
        requester=Person("m@x.com", "M"),
        participants=(
            Person("m@x.com", "M"),
            Person("cand@x.com", "Cand again"),
            Person("g@x.com"),
            Person("m@x.com", "M twice"),
        ),
        windows=(),
        booked_start=None,
        booked_end=None,
        conference_url=None,
        cancel_reason=None,
        alternative_message=None,
        ical_sequence=sequence,
    )


def test_attendees_are_the_candidate_first_then_the_team_each_once() -> None:
    assert facts(InterviewStatus.BOOKED).attendees == (
        Person("cand@x.com", "Cand"),
        Person("m@x.com", "M"),
        Person("g@x.com"),
    )


def intent(
    kind: MessageKind, invite: InviteMethod | None = None, sequence: int | None = None
) -> MailIntent:
    return MailIntent(
        OUTBOX_ID, T0, kind, "a@x.com", "UTC", None, uuid.uuid4(), invite, sequence, ""
    )


def test_reminders_go_out_only_while_the_interview_is_pending() -> None:
    reminder = intent(MessageKind.BOOKING_REMINDER)
    assert superseded(reminder, facts(InterviewStatus.PENDING)) is None
    assert superseded(reminder, facts(InterviewStatus.BOOKED)) == (
        "the interview is booked: no reminder"
    )
    assert superseded(reminder, facts(InterviewStatus.CANCELLED)) == (
        "the interview is cancelled: no reminder"
    )
    assert superseded(reminder, None) is None
    assert superseded(intent(MessageKind.REMINDER_SENT), facts(InterviewStatus.BOOKED)) is None


def test_a_booking_invite_replaced_by_a_cancellation_is_not_sent() -> None:
    cancelled = facts(InterviewStatus.CANCELLED, sequence=1)
    stale = intent(MessageKind.INTERVIEW_BOOKED, InviteMethod.REQUEST, sequence=0)
    assert superseded(stale, cancelled) == "the booking was cancelled before its invite went out"
    assert superseded(replace(stale, sequence=None), cancelled) is not None
    assert superseded(replace(stale, sequence=1), cancelled) is None
    assert superseded(stale, facts(InterviewStatus.BOOKED, sequence=1)) is None
    cancel = intent(MessageKind.INTERVIEW_CANCELLED, InviteMethod.CANCEL, sequence=0)
    assert superseded(cancel, cancelled) is None
    plain = intent(MessageKind.INTERVIEW_BOOKED, None, sequence=0)
    assert superseded(plain, cancelled) is None


def test_a_move_mail_overtaken_by_a_later_move_or_cancellation_is_not_sent() -> None:
    moved = intent(MessageKind.INTERVIEW_MOVED, InviteMethod.REQUEST, sequence=1)
    assert superseded(moved, facts(InterviewStatus.BOOKED, sequence=1)) is None
    assert superseded(moved, facts(InterviewStatus.BOOKED, sequence=2)) == (
        "the interview changed again before this mail went out"
    )
    assert superseded(moved, facts(InterviewStatus.CANCELLED, sequence=2)) is not None
    manager = intent(MessageKind.INTERVIEW_MOVED, None, sequence=1)
    assert superseded(manager, facts(InterviewStatus.BOOKED, sequence=2)) is not None


# -- the audience of a change ---------------------------------------------------------------


def person(role: Role, email: str, zone: str) -> User:
    return User(id=uuid.uuid4(), role=role, email=email, name=email, time_zone=zone)


@pytest.fixture
def audience() -> Audience:
    member = person(Role.HIRING_MEMBER, "m@x.com", "America/New_York")
    connected = person(Role.HIRING_MEMBER, "c@x.com", "Europe/Berlin")
    candidate = person(Role.CANDIDATE, "cand@x.com", "Asia/Kolkata")
    manager = person(Role.ACCOUNT_MANAGER, "am@x.com", "Europe/London")
    interview = Interview(id=uuid.uuid4(), time_zone="America/Chicago")
    participants = [
        Participant(kind=ParticipantKind.MEMBER, user_id=member.id, email=member.email),
        Participant(kind=ParticipantKind.INVITEE, email="guest@out.com"),
        Participant(kind=ParticipantKind.MEMBER, user_id=connected.id, email=connected.email),
    ]
    return Audience(
        interview=interview,
        proposal=Proposal(),
        project=Project(),
        candidate=candidate,
        account_manager=manager,
        requester=member,
        participants=participants,
        members=[member, connected],
        calendar_member_ids=frozenset({connected.id}),
    )


def test_each_reader_is_told_in_their_own_zone_and_invitees_in_the_teams(
    audience: Audience,
) -> None:
    assert audience.invitee_emails == ["guest@out.com"]
    assert audience.candidate_r() == Recipient("cand@x.com", "Asia/Kolkata", audience.candidate)
    assert audience.candidate_r(InviteMethod.REQUEST).invite is InviteMethod.REQUEST
    assert audience.manager_r() == Recipient("am@x.com", "Europe/London", audience.account_manager)
    assert audience.requester_r() == Recipient("m@x.com", "America/New_York", audience.requester)
    assert audience.invitees_r(InviteMethod.CANCEL) == [
        Recipient("guest@out.com", "America/Chicago", None, InviteMethod.CANCEL)
    ]
    assert audience.invitees_r() == [Recipient("guest@out.com", "America/Chicago")]


def test_members_whose_calendar_holds_the_event_get_no_mailed_invite(audience: Audience) -> None:
    member, connected = audience.members
    assert audience.members_r(InviteMethod.REQUEST) == [
        Recipient("m@x.com", "America/New_York", member, InviteMethod.REQUEST),
        Recipient("c@x.com", "Europe/Berlin", connected, None),
    ]
    assert [r.invite for r in audience.members_r()] == [None, None]


def test_the_team_is_members_then_invitees_then_the_requester(audience: Audience) -> None:
    team = audience.team_r(InviteMethod.CANCEL)
    assert [(r.email, r.invite) for r in team] == [
        ("m@x.com", InviteMethod.CANCEL),
        ("c@x.com", None),
        ("guest@out.com", InviteMethod.CANCEL),
        ("m@x.com", None),  # the requester, told without an invite (kept from the member)
    ]


async def test_load_audience_asks_who_holds_the_event_only_when_cancelling_a_booking(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session: Any = object()
    member = person(Role.HIRING_MEMBER, "m@x.com", "UTC")
    later = person(Role.HIRING_MEMBER, "l@x.com", "UTC")  # connected after the booking
    requester = person(Role.HIRING_MEMBER, "r@x.com", "UTC")
    candidate = person(Role.CANDIDATE, "cand@x.com", "UTC")
    manager = person(Role.ACCOUNT_MANAGER, "am@x.com", "UTC")
    everyone = {u.id: u for u in (member, later, requester, candidate, manager)}
    interview = Interview(id=uuid.uuid4(), requested_by_id=requester.id)
    proposal = Proposal(candidate_id=candidate.id)
    project = Project(account_manager_id=manager.id)
    participants = [
        Participant(kind=ParticipantKind.INVITEE, email="g@out.com"),
        Participant(kind=ParticipantKind.MEMBER, user_id=later.id, email=later.email),
        Participant(kind=ParticipantKind.MEMBER, user_id=member.id, email=member.email),
    ]
    asked: list[Any] = []

    async def participants_of(s: Any, interview_id: uuid.UUID) -> list[Participant]:
        assert s is session and interview_id == interview.id
        return participants

    async def users_and_connected(
        s: Any, ids: set[uuid.UUID]
    ) -> tuple[dict[uuid.UUID, User], set[uuid.UUID]]:
        assert s is session
        asked.append(("users", set(ids)))
        # Connected calendars now (a broken one is not): the requester's, who takes no part,
        # and the member's who connected after the booking.
        return {i: everyone[i] for i in ids}, {later.id, requester.id}

    async def members_with_calendar_events(s: Any, interview_id: uuid.UUID) -> set[uuid.UUID]:
        assert s is session and interview_id == interview.id
        asked.append("events")
        return {member.id}

    monkeypatch.setattr(repository, "participants_of", participants_of)
    monkeypatch.setattr(repository, "users_and_connected", users_and_connected)
    monkeypatch.setattr(repository, "members_with_calendar_events", members_with_calendar_events)

    told = await load_audience(session, interview, proposal, project)
    assert told.calendar_member_ids == frozenset({later.id}), "members connected now"
    assert (told.interview, told.proposal, told.project) == (interview, proposal, project)
    assert (told.candidate, told.account_manager, told.requester) == (candidate, manager, requester)
    assert told.participants == participants
    assert told.members == [later, member]
    assert asked == [("users", {member.id, later.id, candidate.id, manager.id, requester.id})]
    asked.clear()
    cancelling = await load_audience(session, interview, proposal, project, cancelling=True)
    assert cancelling.calendar_member_ids == frozenset({member.id}), "who holds the event"
    assert asked[1:] == ["events"]
