"""Relay-style connections: edges, a full PageInfo and a totalCount counted only when asked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from app.pagination import Cursor, Order, after_cursor, count_rows, fetch_page, page_size
from app.schema.context import Info
from app.schema.errors import query_errors

N = TypeVar("N")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool = strawberry.field(
        default=False,
        description="Forward paging only: true when the page was asked `after` a cursor.",
    )
    start_cursor: str | None = None


@strawberry.type
class Edge(Generic[N]):
    node: N
    cursor: str


@strawberry.type
class Connection(Generic[N]):
    edges: list[Edge[N]]
    page_info: PageInfo
    counter: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Items in the whole list (every page); one COUNT when asked.")
    async def total_count(self) -> int:
        return await self.counter()


def paging(first: int | None, after: str | None) -> tuple[int, Cursor | None]:
    """The page size and the decoded cursor; a bad one is the client's mistake."""
    with query_errors():
        return page_size(first), after_cursor(after)


Fetch = Callable[[AsyncSession], Awaitable[tuple[Sequence[Any], bool]]]
Count = Callable[[AsyncSession], Awaitable[int]]


async def connection(
    info: Info,
    *,
    fetch: Fetch,
    count: Count,
    cursor_of: Callable[[Any], Cursor],
    node: Callable[[Any], N],
    after: Cursor | None,
) -> Connection[N]:
    """One page through the context's guarded session; user mistakes become query errors."""
    with query_errors():
        async with info.context.db() as session:
            rows, has_next = await fetch(session)
    edges = [Edge(node=node(row), cursor=cursor_of(row).encode()) for row in rows]

    async def counter() -> int:
        async with info.context.db() as session:
            return await count(session)

    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            end_cursor=edges[-1].cursor if edges else None,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
        ),
        counter=counter,
    )


async def query_connection(
    info: Info,
    query: Select[Any],
    order: Order,
    *,
    first: int | None,
    after: str | None,
    node: Callable[[Any], N],
) -> Connection[N]:
    """A page of `query` in `order` (keyset), and its count when asked."""
    size, cursor = paging(first, after)
    return await connection(
        info,
        fetch=lambda s: fetch_page(s, query, order, first=size, after=cursor),
        count=lambda s: count_rows(s, query),
        cursor_of=order.cursor,
        node=node,
        after=cursor,
    )
