"""Delivering one webhook outbox row: order, target check, signature, one POST.

Order per interview: a row waits (Deferred: no attempt spent) while the same endpoint
still has a PENDING row about the same interview with a lower `seq`. Rows are written in
`seq` order under the interview's lock, so the endpoint sees an interview's events in the
order they happened, whatever the retries in between. An earlier row that FAILED for good
no longer holds the later ones back (a dead endpoint must not freeze an interview's
feed); replaying it later delivers it late, and its `seq` in the payload tells so.

Success is any 2xx. Everything else is retried with the outbox's backoff, honouring
Retry-After: 3xx too, since redirects are not followed (a redirect could lead anywhere,
including inside our network).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
from sqlalchemy import false, select

from app.models import OutboxMessage, OutboxStatus, WebhookEndpoint
from app.outbox.errors import Deferred, PermanentDeliveryError, TransientDeliveryError
from app.outbox.processing import ClaimedMessage
from app.outbox.topics import WEBHOOK_TOPIC, handles
from app.webhooks.signing import SIGNATURE_HEADER, SecretCipher, signature_header
from app.webhooks.targets import TargetRefused, check_target
from app.workers.runtime import WorkerRuntime

ORDER_WAIT_SECONDS = 1.0
USER_AGENT = "Roundtable-Webhooks/1"
MAX_ANSWER_CHARS = 200
MAX_RETRY_AFTER_SECONDS = 86_400.0


@handles(WEBHOOK_TOPIC)
async def deliver_webhook(message: ClaimedMessage, *, runtime: WorkerRuntime) -> str:
    payload = message.payload
    async with runtime.sessions() as session:
        endpoint = await session.get(WebhookEndpoint, uuid.UUID(str(payload["endpoint_id"])))
        if endpoint is None:
            raise PermanentDeliveryError("the endpoint was deleted")
        if not endpoint.enabled:
            raise PermanentDeliveryError("the endpoint is disabled")
        earlier = await session.scalar(earlier_pending(message))
        url, ciphertext = endpoint.url, endpoint.secret_ciphertext
        await session.commit()
    if earlier is not None:
        raise Deferred(
            f"waiting for an earlier event of the interview ({earlier})",
            retry_after=min(ORDER_WAIT_SECONDS, runtime.options.min_backoff_seconds),
        )
    try:
        await check_target(url, allow_private=runtime.settings.webhook_allow_private)
    except TargetRefused as exc:
        raise PermanentDeliveryError(f"target refused: {exc}") from None
    secret = SecretCipher(runtime.settings.secret_key).decrypt(ciphertext)
    body = str(payload["body"]).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Roundtable-Event-Id": str(payload["event_id"]),
        SIGNATURE_HEADER: signature_header(secret, int(time.time()), body),
    }
    try:
        async with httpx.AsyncClient(
            timeout=runtime.settings.webhook_timeout_seconds,
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment between us and the check above
        ) as http:
            answer = await http.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise TransientDeliveryError(f"no answer: {type(exc).__name__}: {exc}") from None
    if 200 <= answer.status_code < 300:
        return f"HTTP {answer.status_code}"
    raise TransientDeliveryError(_describe(answer), retry_after=_retry_after(answer))


def earlier_pending(message: ClaimedMessage) -> Any:
    """The id of a PENDING row for the same endpoint and interview with a lower seq."""
    payload = message.payload
    interview_id, seq = payload.get("interview_id"), payload.get("seq")
    if interview_id is None or seq is None:
        return select(OutboxMessage.id).where(false())
    return (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.topic == WEBHOOK_TOPIC,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.id != message.id,
            OutboxMessage.payload["endpoint_id"].as_string() == str(payload["endpoint_id"]),
            OutboxMessage.payload["interview_id"].as_string() == str(interview_id),
            OutboxMessage.payload["seq"].as_integer() < int(seq),
        )
        .limit(1)
    )


def _describe(answer: httpx.Response) -> str:
    reason = f"HTTP {answer.status_code}"
    if answer.is_redirect:
        return f"{reason}: redirect to {answer.headers.get('location', '?')} not followed"
    text = answer.text[:MAX_ANSWER_CHARS].strip()
    return f"{reason}: {text}" if text else reason


def _retry_after(answer: httpx.Response) -> float | None:
    value = answer.headers.get("retry-after", "")
    try:
        return min(max(0.0, float(value)), MAX_RETRY_AFTER_SECONDS)
    except ValueError:
        return None
