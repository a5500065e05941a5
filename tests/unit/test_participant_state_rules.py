"""The participant's delivery state moves through one module (app.participants.state)."""

from __future__ import annotations

from app.models import Participant, ParticipantKind, SyncState
from app.participants import state


def participant() -> Participant:
    return Participant(
        kind=ParticipantKind.INVITEE,
        email="a@example.com",
        sync_state=SyncState.FAILED,
        sync_error="old reason",
    )


def test_awaiting_clears_the_reason_of_one_or_many() -> None:
    one, two = participant(), participant()
    state.awaiting(one)
    state.awaiting([two])
    for p in (one, two):
        assert (p.sync_state, p.sync_error) == (SyncState.PENDING, None)


def test_delivered_and_failed() -> None:
    p = participant()
    state.delivered(p)
    assert (p.sync_state, p.sync_error) == (SyncState.SYNCED, None)
    state.failed(p, "the calendar provider refused the event")
    assert (p.sync_state, p.sync_error) == (
        SyncState.FAILED,
        "the calendar provider refused the event",
    )


def test_an_invite_mail_is_synced_when_handed_over_and_failed_with_why_otherwise() -> None:
    assert state.invite_outcome(None) == (SyncState.SYNCED, None)
    assert state.invite_outcome("SMTP 550 no such user") == (
        SyncState.FAILED,
        "the calendar invitation could not be mailed: SMTP 550 no such user",
    )
