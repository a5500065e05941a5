"""Opaque keyset cursors, one page of a list, and its count.

A cursor holds the sort value of the last row seen (an instant, or text for lists in name
order) and its id, so pages stay stable while rows are added.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ServiceError, validation

MAX_PAGE = 100
T = TypeVar("T")


@dataclass(frozen=True)
class Cursor:
    at: datetime | str
    id: uuid.UUID

    def encode(self) -> str:
        if isinstance(self.at, datetime):
            raw = json.dumps([self.at.isoformat(), str(self.id)])
        else:
            raw = json.dumps([self.at, str(self.id), "text"])
        return base64.urlsafe_b64encode(raw.encode()).decode()

    @classmethod
    def decode(cls, value: str) -> Cursor:
        try:
            at, row_id, *kind = json.loads(base64.urlsafe_b64decode(value.encode()))
            if kind == ["text"]:
                return cls(str(at), uuid.UUID(row_id))
            parsed = datetime.fromisoformat(at)
            if parsed.tzinfo is None:
                raise ValueError("naive")
            return cls(parsed, uuid.UUID(row_id))
        except (ValueError, TypeError, json.JSONDecodeError):
            raise ServiceError([validation("not a cursor from this list", "after")]) from None


def page_size(first: int | None, argument: str = "first", default: int = 20) -> int:
    first = default if first is None else first
    if not 1 <= first <= MAX_PAGE:
        raise ServiceError([validation(f"{argument} must be between 1 and {MAX_PAGE}", argument)])
    return first


def after_cursor(after: str | None) -> Cursor | None:
    return Cursor.decode(after) if after else None


@dataclass(frozen=True)
class Order:
    """A keyset order: a sort column (datetime or text) and the table's id column.

    Text is compared as the database collates it, so name order may differ between SQLite
    and PostgreSQL, but paging is exact on each.
    """

    key: Any
    id: Any
    descending: bool
    key_of: Callable[[Any], datetime | str]

    def cursor(self, row: Any) -> Cursor:
        return Cursor(self.key_of(row), row.id)


def keyset(query: Select[Any], order: Order, after: Cursor | None) -> Select[Any]:
    if after is not None:
        if order.descending:
            query = query.where(
                or_(order.key < after.at, and_(order.key == after.at, order.id < after.id))
            )
        else:
            query = query.where(
                or_(order.key > after.at, and_(order.key == after.at, order.id > after.id))
            )
    if order.descending:
        return query.order_by(order.key.desc(), order.id.desc())
    return query.order_by(order.key.asc(), order.id.asc())


async def fetch_page(
    session: AsyncSession, query: Select[Any], order: Order, *, first: int, after: Cursor | None
) -> tuple[Sequence[Any], bool]:
    """One page, and whether another follows: one statement."""
    rows = list(await session.scalars(keyset(query, order, after).limit(first + 1)))
    return rows[:first], len(rows) > first


async def count_rows(session: AsyncSession, query: Select[Any]) -> int:
    """How many rows the (unpaged) query matches: one statement."""
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    return int(await session.scalar(counted) or 0)
