"""The unit of work's transactions: writers take SQLite's write lock up front, readers do not."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import begin_write, create_session_factory


async def test_writers_begin_immediate_and_readers_deferred(
    engine: AsyncEngine, backend: str
) -> None:
    begins: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        factory = create_session_factory(engine)
        async with factory() as writer:
            await begin_write(writer)
            await writer.execute(text("SELECT 1"))
            await writer.rollback()
        async with factory() as reader:
            await reader.execute(text("SELECT 1"))
            await reader.rollback()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    if backend == "sqlite":
        assert begins == ["BEGIN IMMEDIATE", "BEGIN"]
    else:
        assert begins == []  # PostgreSQL: the driver begins; no SQLite-specific statements
