"""Engine and session factory; the unit of work is one session committed once by its caller."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from app.config import Settings
from app.ops.tracing import instrument_engine


def create_engine(settings: Settings, *, pool: bool = True) -> AsyncEngine:
    url = settings.async_database_url
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if not pool:
        kwargs["poolclass"] = NullPool
    return instrument_engine(create_async_engine(url, **kwargs))


def _sqlite_engine(url: str) -> AsyncEngine:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if path and path != ":memory:":
        from pathlib import Path

        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30})
    _serialise_sqlite_writes(engine.sync_engine)
    return instrument_engine(engine)


WRITE_INTENT = "roundtable_write_intent"


async def begin_write(session: AsyncSession) -> None:
    """Start the session's transaction as a writer (see _serialise_sqlite_writes).

    On PostgreSQL every transaction may write: one already open (a request's
    authentication read) simply goes on, so a request needs one transaction, not two.
    """
    if session.in_transaction() and is_postgres(session):
        return
    await session.connection(execution_options={WRITE_INTENT: True})


def _serialise_sqlite_writes(engine: Engine) -> None:
    """SQLite allows one writer; a unit of work that will write begins IMMEDIATE.

    The write lock is then taken up front: two bookers cannot both read "slot free" and
    the second waits (busy_timeout) instead of failing late on lock upgrade. Reads begin
    deferred, so they never hold the write lock.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let us emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        writer = connection.get_execution_options().get(WRITE_INTENT, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


def create_session_factory(
    engine: AsyncEngine, *, info: dict[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False, info=info)


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"
