"""Writing outbox rows: in the caller's transaction, so the work exists only if the change
commits. The unit of work wakes the relay after a commit that wrote any (`OUTBOX_WRITTEN`).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import OutboxMessage
from app.ops.logs import request_id
from app.ops.tracing import with_trace_context

OUTBOX_WRITTEN = "roundtable.outbox_written"


def enqueue(session: AsyncSession, *, topic: str, payload: dict[str, Any]) -> OutboxMessage:
    rid = request_id.get()
    if rid is not None:
        # The worker's log lines for this row carry the id of the request that caused it.
        payload = {**payload, "request_id": rid}
    payload = with_trace_context(payload)  # the worker's spans continue this trace
    message = OutboxMessage(id=uuid.uuid4(), topic=topic, payload=payload)
    session.add(message)
    # Tells the unit of work to wake the outbox relay once the transaction commits.
    session.info[OUTBOX_WRITTEN] = True
    return message
