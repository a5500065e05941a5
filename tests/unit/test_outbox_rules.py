"""The outbox state machine as rules: claims, outcomes, retries with backoff, republishing.

A row goes through random claims, outcomes, late finishes and publishing sweeps; a plain
model of the module doc's rules must agree with what the SQL conditions and `next_state`
make of it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from app.models import OutboxMessage, OutboxStatus
from app.outbox.errors import PermanentDeliveryError, TransientDeliveryError
from app.outbox.processing import (
    MAX_REASON,
    ClaimedMessage,
    Outcome,
    Result,
    claimable,
    due_for_publishing,
    next_state,
    still_ours,
)
from app.workers.options import WorkerOptions
from tests.unit.sql_eval import evaluate

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
OPTIONS = WorkerOptions(
    lease_seconds=60,
    max_attempts=4,
    min_backoff_seconds=10,
    max_backoff_seconds=100,
    republish_after_seconds=120,
)


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def test_success_is_done_with_the_handlers_note() -> None:
    step = next_state(attempts=2, options=OPTIONS, error=None, note="sent", now=T0)
    assert step.values == {"status": OutboxStatus.DONE, "last_error": "sent", "processed_at": T0}
    assert step.result == Result(Outcome.DONE, reason="sent")


def test_a_permanent_error_fails_at_once_whatever_the_attempt() -> None:
    step = next_state(
        attempts=1,
        options=OPTIONS,
        error=PermanentDeliveryError("550 no such user"),
        note=None,
        now=T0,
    )
    assert step.values == {
        "status": OutboxStatus.FAILED,
        "last_error": "550 no such user",
        "processed_at": T0,
    }
    assert step.result == Result(Outcome.FAILED, reason="550 no such user")


def test_transient_errors_back_off_then_give_up_on_the_last_attempt() -> None:
    waits = []
    for attempt in (1, 2, 3):
        step = next_state(
            attempts=attempt,
            options=OPTIONS,
            error=TransientDeliveryError("451"),
            note=None,
            now=T0,
        )
        assert step.result.outcome is Outcome.RETRY and step.result.reason == "451"
        assert step.values == {
            "status": OutboxStatus.PENDING,
            "last_error": "451",
            "available_at": T0 + step.result.retry_in,  # type: ignore[operator]
            "published_at": T0,
        }
        waits.append(step.result.retry_in)
    assert waits == [seconds(10), seconds(20), seconds(40)]
    last = next_state(
        attempts=4, options=OPTIONS, error=TransientDeliveryError("451"), note=None, now=T0
    )
    assert last.values == {
        "status": OutboxStatus.FAILED,
        "last_error": "gave up: 451",
        "processed_at": T0,
    }
    assert last.result == Result(Outcome.FAILED, reason="gave up: 451")


def test_retry_after_is_honoured_and_unexpected_errors_retry_without_it() -> None:
    step = next_state(
        attempts=1,
        options=OPTIONS,
        error=TransientDeliveryError("429", retry_after=75),
        note=None,
        now=T0,
    )
    assert step.result.retry_in == seconds(75)
    bug = RuntimeError("boom")
    step = next_state(attempts=2, options=OPTIONS, error=bug, note=None, now=T0)
    assert step.result == Result(Outcome.RETRY, retry_in=seconds(20), reason="RuntimeError('boom')")
    assert step.values["last_error"] == "RuntimeError('boom')"
    final = next_state(attempts=4, options=OPTIONS, error=bug, note=None, now=T0)
    assert final.result.reason == "gave up: RuntimeError('boom')"


def test_long_reasons_are_cut_on_the_row_only() -> None:
    long = "x" * (MAX_REASON + 50)
    for error, attempts in [
        (TransientDeliveryError(long), 1),
        (TransientDeliveryError(long), 4),
        (PermanentDeliveryError(long), 1),
    ]:
        step = next_state(attempts=attempts, options=OPTIONS, error=error, note=None, now=T0)
        assert len(step.values["last_error"]) == MAX_REASON
        assert len(step.result.reason or "") >= MAX_REASON


def test_backoff_doubles_from_the_minimum_and_is_capped() -> None:
    assert [OPTIONS.backoff(n) for n in (0, 1, 2, 3, 4, 5)] == [
        seconds(10),
        seconds(10),
        seconds(20),
        seconds(40),
        seconds(80),
        seconds(100),
    ]
    assert OPTIONS.backoff(1, retry_after=5) == seconds(10)
    assert OPTIONS.backoff(5, retry_after=500) == seconds(500)
    assert (OPTIONS.lease, OPTIONS.republish_after) == (seconds(60), seconds(120))


# -- the whole machine, against a model ----------------------------------------------------


@dataclass
class Model:
    """The module doc's rules, written plainly, for one row."""

    status: OutboxStatus = OutboxStatus.PENDING
    attempts: int = 0
    available_at: datetime = T0
    published_at: datetime | None = None
    holders: list[int] = field(default_factory=list)  # attempt numbers of live claims


def row_of(model: Model, row_id: uuid.UUID, topic: str) -> OutboxMessage:
    return OutboxMessage(
        id=row_id,
        topic=topic,
        status=model.status,
        attempts=model.attempts,
        available_at=model.available_at,
        published_at=model.published_at,
    )


events = st.lists(
    st.tuples(
        st.sampled_from(["claim", "finish", "publish"]),
        st.integers(0, 400),  # seconds since the previous event
        st.sampled_from(["ok", "transient", "retry_after", "permanent", "bug"]),
        st.integers(0, 3),  # which live claim finishes
    ),
    max_size=25,
)


def error_of(kind: str) -> Exception | None:
    return {
        "ok": None,
        "transient": TransientDeliveryError("451 busy"),
        "retry_after": TransientDeliveryError("429 slow down", retry_after=90),
        "permanent": PermanentDeliveryError("550 gone"),
        "bug": ValueError("bug"),
    }[kind]


@settings(max_examples=300, deadline=None)
@given(events=events, topic=st.sampled_from(["mail", "calendar_sync", "other"]))
def test_a_row_moves_through_the_machine_as_the_model_says(
    events: list[tuple[str, int, str, int]], topic: str
) -> None:
    row_id, model, now = uuid.uuid4(), Model(), T0
    values: dict[str, Any] = {}
    for action, wait, outcome, which in events:
        now += seconds(wait)
        row = row_of(model, row_id, topic)
        if action == "claim":
            may = model.status is OutboxStatus.PENDING and model.available_at <= now
            assert evaluate(claimable(row_id, now), {"outbox_messages": row}) is may
            assert not evaluate(claimable(uuid.uuid4(), now), {"outbox_messages": row})
            if may:
                model.attempts += 1
                model.available_at = now + OPTIONS.lease
                model.holders.append(model.attempts)
        elif action == "finish" and model.holders:
            attempt = model.holders.pop(which % len(model.holders))
            claimed = ClaimedMessage(row_id, topic, {}, T0, attempt)
            ours = model.status is OutboxStatus.PENDING and model.attempts == attempt
            assert evaluate(still_ours(claimed), {"outbox_messages": row}) is ours
            other = ClaimedMessage(uuid.uuid4(), topic, {}, T0, attempt)
            assert not evaluate(still_ours(other), {"outbox_messages": row})
            step = next_state(
                attempts=attempt, options=OPTIONS, error=error_of(outcome), note=None, now=now
            )
            expected = (
                Outcome.DONE
                if outcome == "ok"
                else Outcome.FAILED
                if outcome == "permanent" or attempt >= OPTIONS.max_attempts
                else Outcome.RETRY
            )
            assert step.result.outcome is expected
            if ours:
                values = step.values
                model.status = values["status"]
                if expected is Outcome.RETRY:
                    wait_at_least = seconds(90) if outcome == "retry_after" else seconds(0)
                    delay = values["available_at"] - now
                    assert delay >= max(wait_at_least, OPTIONS.backoff(attempt))
                    model.available_at = values["available_at"]
                    model.published_at = now
        elif action == "publish":
            stale = now - OPTIONS.republish_after
            due = (
                model.status is OutboxStatus.PENDING
                and topic in {"mail", "calendar_sync"}
                and model.available_at <= now
                and (
                    model.published_at is None
                    or (model.published_at <= stale and model.available_at <= stale)
                )
            )
            condition = due_for_publishing(["mail", "calendar_sync"], now=now, options=OPTIONS)
            assert evaluate(condition, {"outbox_messages": row}) is due
            if due:
                model.published_at = now
        if model.status is not OutboxStatus.PENDING:
            assert not evaluate(
                claimable(row_id, now + seconds(10**6)),
                {"outbox_messages": row_of(model, row_id, topic)},
            )


def test_a_row_is_published_again_exactly_when_it_has_been_quiet_for_republish_after() -> None:
    now = T0 + seconds(1000)
    stale = now - OPTIONS.republish_after
    condition = due_for_publishing(["mail"], now=now, options=OPTIONS)

    def due(published_at: datetime | None, available_at: datetime) -> bool:
        model = Model(published_at=published_at, available_at=available_at)
        return evaluate(condition, {"outbox_messages": row_of(model, uuid.uuid4(), "mail")})

    assert due(None, now) and not due(None, now + seconds(1))
    assert due(stale, stale)
    assert not due(stale + seconds(1), stale)
    assert not due(stale, stale + seconds(1))
    for status in (OutboxStatus.DONE, OutboxStatus.FAILED):
        finished = row_of(Model(status=status), uuid.uuid4(), "mail")
        assert not evaluate(condition, {"outbox_messages": finished})


def test_a_claim_no_longer_holds_once_the_row_is_finished() -> None:
    row_id = uuid.uuid4()
    claimed = ClaimedMessage(row_id, "mail", {}, T0, 2)
    for status, holds in [
        (OutboxStatus.PENDING, True),
        (OutboxStatus.DONE, False),
        (OutboxStatus.FAILED, False),
    ]:
        row = row_of(Model(status=status, attempts=2), row_id, "mail")
        assert evaluate(still_ours(claimed), {"outbox_messages": row}) is holds, status
    taken_again = row_of(Model(attempts=3), row_id, "mail")
    assert not evaluate(still_ours(claimed), {"outbox_messages": taken_again})


def test_the_pending_read_names_its_status_as_the_partial_index_does() -> None:
    """The relay's and the sweep's read must match ix_outbox_messages_pending's predicate
    (status = 'PENDING') in a prepared statement's generic plan, where a parameter's value
    is unknown: the status is sent as a literal, not a parameter."""
    due = due_for_publishing(["mail"], now=datetime(2026, 1, 1, tzinfo=UTC), options=OPTIONS)
    sql = str(
        select(OutboxMessage.id)
        .where(due)
        .compile(dialect=postgresql.dialect(), compile_kwargs={"render_postcompile": True})
    )
    assert "outbox_messages.status = 'PENDING'" in sql
