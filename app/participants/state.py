"""One owner of a participant's delivery state: `sync_state` and the reason shown with it.

Whichever way the copy travels (app.participants.channel), its state moves only here:

- `awaiting`: there is something to deliver (a booking, a cancellation, a calendar
  replaced): PENDING, no reason.
- `delivered`: the calendar holds the event, or the invite was handed to the mail server:
  SYNCED.
- `failed`: given up; the reason is what the member reads next to the state: FAILED.
- `invite_outcome`: the same rule as column values, for the mail worker's bulk UPDATE.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.models import Participant, SyncState


def awaiting(participants: Participant | Iterable[Participant]) -> None:
    for participant in [participants] if isinstance(participants, Participant) else participants:
        participant.sync_state = SyncState.PENDING
        participant.sync_error = None


def delivered(participant: Participant) -> None:
    participant.sync_state = SyncState.SYNCED
    participant.sync_error = None


def failed(participant: Participant, reason: str) -> None:
    participant.sync_state = SyncState.FAILED
    participant.sync_error = reason


def invite_outcome(error: str | None) -> tuple[SyncState, str | None]:
    """The state an invite mail leaves its participant in: handed over, or why not."""
    if error is None:
        return SyncState.SYNCED, None
    return SyncState.FAILED, f"the calendar invitation could not be mailed: {error}"
