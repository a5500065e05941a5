"""Webhook events, emitted by the services in the transaction of the change they describe.

`emit_interview` / `emit_proposal` write one outbox row (topic `webhook`) per endpoint that
wants the event, beside the change's other outbox rows: nothing is sent unless the change
commits, and the delivery worker retries with the outbox's backoff. The event's id, and so
the raw body that is signed, is fixed here: every retry and every replay sends the same.

Order: each event about an interview carries that interview's next `event_seq` (the
interview's row is locked by every change), and one endpoint receives an interview's events
in that order (app.webhooks.delivery).

Hook for new changes (moveBooking, say): call `await emit_interview(session,
EventType.RESCHEDULED, interview)` after the interview's columns are set.
"""

from __future__ import annotations

import enum
import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Interview, Participant, Proposal, WebhookEndpoint, utcnow
from app.outbox.enqueue import enqueue
from app.outbox.topics import WEBHOOK_TOPIC

_ENDPOINTS = "roundtable.webhook_endpoints"


class EventType(enum.StrEnum):
    REQUESTED = "interview.requested"
    UPDATED = "interview.updated"
    BOOKED = "interview.booked"
    CANCELLED = "interview.cancelled"
    RESCHEDULED = "interview.rescheduled"  # the new interview of a reschedule
    ALTERNATIVE_TIMES_REQUESTED = "interview.alternative_times_requested"
    REMINDED = "interview.reminded"
    SYNC_FAILED = "interview.sync_failed"
    HIRED = "proposal.hired"


EVENT_TYPES = frozenset(t.value for t in EventType)


async def emit_interview(
    session: AsyncSession, event_type: EventType, interview: Interview, **extra: Any
) -> None:
    if not await _wanting(session, event_type):
        return  # nobody listens: no row, and the interview's sequence is left as it is
    interview.event_seq = (interview.event_seq or 0) + 1
    # `sequence` lets a receiver see the order too: rising per interview.
    data = {"interview": interview_data(interview), "sequence": interview.event_seq, **extra}
    await _emit(session, event_type, data, interview_id=interview.id, seq=interview.event_seq)


async def emit_sync_failed(
    session: AsyncSession, interview_id: uuid.UUID, participant: Participant
) -> None:
    """A participant's calendar write failed for good (from the sync worker)."""
    interview = await session.get(Interview, interview_id, with_for_update=True)
    if interview is None:
        return
    failed = {"email": participant.email, "reason": participant.sync_error}
    await emit_interview(session, EventType.SYNC_FAILED, interview, participant=failed)


async def emit_proposal(session: AsyncSession, event_type: EventType, proposal: Proposal) -> None:
    data = {
        "proposal": {
            "id": str(proposal.id),
            "status": proposal.status.value,
            "projectId": str(proposal.project_id),
            "candidateId": str(proposal.candidate_id),
        }
    }
    await _emit(session, event_type, data, interview_id=None, seq=None)


def interview_data(interview: Interview) -> dict[str, Any]:
    return {
        "id": str(interview.id),
        "proposalId": str(interview.proposal_id),
        "round": interview.round,
        "status": interview.status.value,
        "timeZone": interview.time_zone,
        "durationMinutes": interview.duration_minutes,
        "requestedAt": _iso(interview.requested_at),
        "bookedStart": _iso(interview.booked_start),
        "bookedEnd": _iso(interview.booked_end),
        "conferenceUrl": interview.conference_url,
        "cancelledAt": _iso(interview.cancelled_at),
        "cancelReason": interview.cancel_reason,
        "alternativeTimesRequested": bool(interview.alternative_times_requested),
        "rescheduledFromId": (
            str(interview.rescheduled_from_id) if interview.rescheduled_from_id else None
        ),
    }


def event_body(event_id: uuid.UUID, event_type: str, created_at: datetime, data: Any) -> str:
    """The raw body every delivery of the event sends, byte for byte (and signs)."""
    return json.dumps(
        {"id": str(event_id), "type": event_type, "createdAt": _iso(created_at), "data": data},
        separators=(",", ":"),
        sort_keys=True,
    )


async def _emit(
    session: AsyncSession,
    event_type: EventType,
    data: dict[str, Any],
    *,
    interview_id: uuid.UUID | None,
    seq: int | None,
) -> None:
    endpoints = await _wanting(session, event_type)
    if not endpoints:
        return
    event_id = uuid.uuid4()
    body = event_body(event_id, event_type.value, utcnow(), data)
    for endpoint in endpoints:
        enqueue(
            session,
            topic=WEBHOOK_TOPIC,
            payload={
                "endpoint_id": str(endpoint.id),
                "event_id": str(event_id),
                "type": event_type.value,
                "interview_id": str(interview_id) if interview_id else None,
                "seq": seq,
                "body": body,
            },
        )


async def _wanting(session: AsyncSession, event_type: EventType) -> list[WebhookEndpoint]:
    return [e for e in await _endpoints(session) if e.wants(event_type.value)]


def endpoints_enabled() -> Exists:
    """Whether any endpoint is enabled: a column for a statement the transaction sends
    anyway (booking's lock on its people), so that most bookings, where nobody listens,
    need no read of their own (`note_endpoints_enabled`)."""
    return select(WebhookEndpoint.id).where(WebhookEndpoint.enabled).exists()


def note_endpoints_enabled(session: AsyncSession, enabled: bool) -> None:
    """What `endpoints_enabled` said in this transaction: if none is, events of this
    transaction are written for no endpoint without reading them (as a read would)."""
    if not enabled:
        session.info[_ENDPOINTS] = (session.get_transaction(), [])


async def _endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    """The enabled endpoints, read once per transaction however many events it emits."""
    transaction = session.get_transaction()
    cached = session.info.get(_ENDPOINTS)
    if cached is not None and cached[0] is transaction:
        return list(cached[1])
    rows = list(await session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.enabled)))
    session.info[_ENDPOINTS] = (transaction, rows)
    return rows


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
