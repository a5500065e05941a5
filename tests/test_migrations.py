"""Alembic takes an empty database to head on SQLite and PostgreSQL, and matches the models."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from app.config import Settings
from app.db import create_engine
from app.migrate import downgrade, upgrade
from app.models import Base
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.services import POSTGRES_URL, require_service


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    parts = urlsplit(POSTGRES_URL)
    require_service("PostgreSQL", parts.hostname or "127.0.0.1", parts.port or 5432)
    name = f"roundtable_migrations_{os.getpid()}"
    yield await create_postgres_database(name)
    await drop_postgres_database(name)


async def _differences(url: str) -> tuple[list[Any], set[str]]:
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as conn:

            def inspect_sync(sync_conn: Any) -> tuple[list[Any], set[str]]:
                context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                diff = compare_metadata(context, Base.metadata)
                return diff, set(inspect(sync_conn).get_table_names())

            return await conn.run_sync(inspect_sync)
    finally:
        await engine.dispose()


async def test_empty_to_head_creates_every_table_as_the_models_declare(empty_database: str) -> None:
    await asyncio.to_thread(upgrade, empty_database)
    diff, tables = await _differences(empty_database)
    assert set(Base.metadata.tables) <= tables
    assert diff == []


async def test_downgrade_to_base_and_up_again(empty_database: str) -> None:
    await asyncio.to_thread(upgrade, empty_database)
    await asyncio.to_thread(downgrade, empty_database, "base")
    _, tables = await _differences(empty_database)
    assert tables <= {"alembic_version"}
    await asyncio.to_thread(upgrade, empty_database)
    _, tables = await _differences(empty_database)
    assert set(Base.metadata.tables) <= tables


async def test_postgres_gets_the_exclusion_constraint_on_reservations(
    empty_database: str,
) -> None:
    """compare_metadata cannot see an EXCLUDE (the models do not declare it): look for it."""
    if not empty_database.startswith("postgresql"):
        pytest.skip("SQLite has no exclusion constraints")
    await asyncio.to_thread(upgrade, empty_database)
    engine = create_engine(Settings(database_url=empty_database))
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conrelid = 'slot_reservations'::regclass AND contype = 'x'"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    assert [(name, " ".join(definition.split())) for name, definition in rows] == [
        (
            "ex_slot_reservations_no_overlap",
            "EXCLUDE USING gist (user_id WITH =, tstzrange(starts_at, ends_at, '[)'::text) WITH &&)",
        )
    ]
