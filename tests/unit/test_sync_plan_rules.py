"""What each member's calendar needs, decided without a database or a provider."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.calendars.sync_plan import (
    CONFERENCE_PROVIDERS,
    Action,
    Content,
    Decision,
    Plan,
    Step,
    conference_first,
    creates_conference,
    decide_live,
    decide_removal,
    event_spec,
)
from app.models import (
    CalendarConnection,
    CalendarEvent,
    CalendarEventState,
    CalendarProvider,
    ConnectionState,
    Interview,
)
from app.participants.channel import one_per_user

T0 = datetime(2026, 3, 5, 14, 0, tzinfo=UTC)
KEY = "k" * 32


def connection(
    provider: CalendarProvider = CalendarProvider.GOOGLE,
    state: ConnectionState = ConnectionState.CONNECTED,
    user_id: uuid.UUID | None = None,
    updated_at: datetime = T0,
) -> CalendarConnection:
    return CalendarConnection(
        id=uuid.uuid4(),
        user_id=user_id or uuid.uuid4(),
        provider=provider,
        state=state,
        updated_at=updated_at,
    )


def event(
    on: CalendarConnection | None,
    *,
    provider_event_id: str | None = "ev1",
    state: CalendarEventState = CalendarEventState.SYNCED,
    sequence: int = 0,
) -> CalendarEvent:
    return CalendarEvent(
        id=uuid.uuid4(),
        connection_id=on.id if on else None,
        provider_event_id=provider_event_id,
        state=state,
        sequence=sequence,
    )


def test_a_member_without_a_connection_gets_nothing_written() -> None:
    assert decide_live(None, None, 0) is None
    assert decide_live(event(connection()), None, 0) is None


def test_a_first_copy_or_one_in_a_newly_connected_calendar_is_created_afresh() -> None:
    now_connected = connection()
    assert decide_live(None, now_connected, 0) == Decision(Action.CREATE, record=True)
    moved = event(connection())  # written into a calendar the member has since replaced
    assert decide_live(moved, now_connected, 0) == Decision(Action.CREATE, record=True)


def test_a_copy_without_a_provider_id_is_created_again_under_its_key() -> None:
    on = connection()
    unconfirmed = event(on, provider_event_id=None, state=CalendarEventState.PENDING)
    assert decide_live(unconfirmed, on, 0) == Decision(Action.CREATE)
    assert decide_live(unconfirmed, on, 0).record is False  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("state", "written_sequence", "interview_sequence", "expected"),
    [
        (CalendarEventState.SYNCED, 1, 1, None),
        (CalendarEventState.SYNCED, 2, 1, None),
        (CalendarEventState.SYNCED, 0, 1, Action.UPDATE),  # the interview changed since
        (CalendarEventState.PENDING, 1, 1, Action.UPDATE),
        (CalendarEventState.FAILED, 1, 1, Action.UPDATE),
    ],
)
def test_a_written_copy_is_updated_unless_it_is_synced_and_current(
    state: CalendarEventState,
    written_sequence: int,
    interview_sequence: int,
    expected: Action | None,
) -> None:
    on = connection()
    decision = decide_live(
        event(on, state=state, sequence=written_sequence), on, interview_sequence
    )
    assert (decision.action if decision else None) is expected
    if decision:
        assert decision == Decision(expected)


def test_removal_deletes_what_we_wrote_where_we_can_still_reach_it() -> None:
    google = connection()
    assert decide_removal(event(google), google, KEY) == Decision(Action.DELETE, target="ev1")
    microsoft = connection(CalendarProvider.MICROSOFT)
    assert decide_removal(event(microsoft), microsoft, KEY) == Decision(Action.DELETE, target="ev1")


def test_a_google_create_whose_answer_was_lost_is_deleted_by_its_key() -> None:
    google = connection()
    lost = event(google, provider_event_id=None, state=CalendarEventState.PENDING)
    assert decide_removal(lost, google, KEY) == Decision(Action.DELETE, target=KEY)
    microsoft = connection(CalendarProvider.MICROSOFT)
    lost_there = event(microsoft, provider_event_id=None, state=CalendarEventState.PENDING)
    # Graph chose the id: the copy is looked for by its reference line.
    assert decide_removal(lost_there, microsoft, KEY) == Decision(Action.DELETE, target=None)


def test_copies_out_of_reach_are_forgotten_and_deleted_ones_left_alone() -> None:
    gone = connection(state=ConnectionState.BROKEN)
    assert decide_removal(event(gone), gone, KEY) == Decision(None, error="calendar disconnected")
    assert decide_removal(event(None), None, KEY) == Decision(None, error="calendar disconnected")
    google = connection()
    deleted = event(google, state=CalendarEventState.DELETED)
    assert decide_removal(deleted, google, KEY) is None
    nothing = event(None, provider_event_id=None)
    assert decide_removal(nothing, None, KEY) == Decision(None, error=None)


def test_the_requester_creates_the_conference_only_while_the_booking_waits_for_it() -> None:
    requester = uuid.uuid4()
    interview = Interview(
        requested_by_id=requester,
        conference_provider="jitsi",
        conference_pending_since=datetime(2026, 3, 2, tzinfo=UTC),
    )
    assert creates_conference(requester, interview) is True
    assert creates_conference(uuid.uuid4(), interview) is False
    # Settled (the provider's link, or the fallback that mails already carry): never again.
    interview.conference_pending_since = None
    for provider in ("jitsi", *CONFERENCE_PROVIDERS.values()):
        interview.conference_provider = provider
        assert creates_conference(requester, interview) is False
    assert CONFERENCE_PROVIDERS == {
        CalendarProvider.GOOGLE: "google_meet",
        CalendarProvider.MICROSOFT: "microsoft_teams",
    }


def step(create_conference: bool, action: Action = Action.CREATE) -> Step:
    return Step(uuid.uuid4(), uuid.uuid4(), action, connection(), None, KEY, create_conference)


def test_the_conference_copy_is_written_first() -> None:
    steps = [step(False), step(True), step(False)]
    ordered = sorted(steps, key=conference_first)
    assert ordered == [steps[1], steps[0], steps[2]]


def test_the_latest_connected_calendar_of_each_user_is_used() -> None:
    user = uuid.uuid4()
    older = connection(user_id=user, updated_at=T0)
    newer = connection(CalendarProvider.MICROSOFT, user_id=user, updated_at=T0 + timedelta(days=1))
    same_time = connection(user_id=user, updated_at=T0 + timedelta(days=1))
    other = connection()
    assert one_per_user([older, newer, same_time, other]) == {user: newer, other.user_id: other}
    assert one_per_user([newer, older]) == {user: newer}


def plan(conference_url: str | None) -> Plan:
    content = Content(
        title="Interview: Ada, Engine (round 1)",
        lines=("Interview, round 1, for Engine.", "Candidate: Ada <ada@x.com>", "Scheduled."),
        start=T0,
        end=T0 + timedelta(minutes=30),
        time_zone="Europe/London",
        sequence=2,
        uid="uid@roundtable",
    )
    return Plan(uuid.uuid4(), content, conference_url)


def test_each_copy_carries_the_content_and_the_conference_link_where_it_belongs() -> None:
    with_link = plan("https://meet.example/abc")
    copy = event_spec(with_link, step(False))
    assert copy is not None
    assert (copy.key, copy.ical_uid, copy.sequence, copy.title) == (
        KEY,
        "uid@roundtable",
        2,
        "Interview: Ada, Engine (round 1)",
    )
    assert (copy.start, copy.end, copy.time_zone) == (
        T0,
        T0 + timedelta(minutes=30),
        "Europe/London",
    )
    assert copy.description == (
        "Interview, round 1, for Engine.\nJoin: https://meet.example/abc\n"
        "Candidate: Ada <ada@x.com>\nScheduled."
    )
    assert copy.location == "https://meet.example/abc" and copy.create_conference is False
    creator = event_spec(with_link, step(True))
    assert creator is not None
    assert "Join:" not in creator.description and creator.location is None
    assert creator.create_conference is True
    plain = event_spec(plan(None), step(False))
    assert plain is not None and "Join:" not in plain.description and plain.location is None
    assert event_spec(with_link, step(False, Action.DELETE)) is None
    assert event_spec(Plan(uuid.uuid4(), None, None), step(False)) is None
