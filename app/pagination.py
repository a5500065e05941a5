"""Opaque keyset cursors: the sort value and the id of the last row seen."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from app.errors import ServiceError, validation

MAX_PAGE = 100


@dataclass(frozen=True)
class Cursor:
    at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = json.dumps([self.at.isoformat(), str(self.id)]).encode()
        return base64.urlsafe_b64encode(raw).decode()

    @classmethod
    def decode(cls, value: str) -> Cursor:
        try:
            at, row_id = json.loads(base64.urlsafe_b64decode(value.encode()))
            parsed = datetime.fromisoformat(at)
            if parsed.tzinfo is None:
                raise ValueError("naive")
            return cls(parsed, uuid.UUID(row_id))
        except (ValueError, TypeError, json.JSONDecodeError):
            raise ServiceError([validation("not a cursor from this list", "after")]) from None


def page_size(first: int, argument: str = "first") -> int:
    if not 1 <= first <= MAX_PAGE:
        raise ServiceError([validation(f"{argument} must be between 1 and {MAX_PAGE}", argument)])
    return first
