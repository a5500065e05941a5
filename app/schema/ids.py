"""IDs are UUIDs; anything else is a typed NOT_FOUND, never a crash."""

from __future__ import annotations

import uuid

from app.errors import not_found


def parse_id(value: str, field: str, what: str | None = None) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise not_found(what or field.removesuffix("Id") or "object", field) from None


def try_parse_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
