"""How a handler tells the outbox what became of a delivery.

Return normally: done. `TransientDeliveryError`: try again after the backoff (or the other
side's `retry_after`). `Deferred`: not yet, without spending an attempt.
`PermanentDeliveryError`: give up now; the row is FAILED with the reason, for admins.
"""

from __future__ import annotations


class DeliveryError(Exception):
    """A delivery that did not happen; `reason` is what admins see on the outbox row."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientDeliveryError(DeliveryError):
    """Worth another try later; `retry_after` (seconds) when the other side said when."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Deferred(TransientDeliveryError):
    """Not yet, and not a failure: the row is looked at again after `retry_after` seconds
    without spending one of its attempts (a mail waiting for the conference link)."""


class PermanentDeliveryError(DeliveryError):
    """Will fail the same way every time (a rejected address, a refused sender)."""
