"""`serve` prints the same demo tokens at every start, minting only those that stopped working."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from app.cli import _seed_and_tokens
from app.db import create_engine, create_session_factory
from app.migrate import upgrade
from app.models import ApiToken, User, utcnow
from app.people.tokens import hash_token
from tests.conftest import make_settings


async def _end(database_url: str, email_prefix: str, **values: object) -> None:
    engine = create_engine(make_settings(database_url))
    try:
        async with create_session_factory(engine)() as session:
            user_id = await session.scalar(
                select(User.id).where(User.email.startswith(email_prefix))
            )
            await session.execute(
                update(ApiToken).where(ApiToken.user_id == user_id).values(**values)
            )
            await session.commit()
    finally:
        await engine.dispose()


async def test_demo_tokens_are_reused_until_revoked_or_expired(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'demo.db'}")
    await asyncio.to_thread(upgrade, settings.database_url)
    kept = tmp_path / "var" / "demo-tokens.json"

    first = await _seed_and_tokens(settings, seed_if_empty=True, remembered=kept)
    second = await _seed_and_tokens(settings, seed_if_empty=True, remembered=kept)

    assert len(first) == 5 and second == first
    assert kept.stat().st_mode & 0o777 == 0o600
    assert all(hash_token(token) not in kept.read_text() for _, _, token in first)

    await _end(settings.database_url, "alice@", revoked_at=utcnow())
    await _end(settings.database_url, "bob@", expires_at=utcnow() - timedelta(seconds=1))
    third = await _seed_and_tokens(settings, seed_if_empty=True, remembered=kept)

    changed = {
        email for (_, email, token), (_, _, old) in zip(third, first, strict=True) if token != old
    }
    assert changed == {"alice@demo.roundtable.example.com", "bob@demo.roundtable.example.com"}
    fourth = await _seed_and_tokens(settings, seed_if_empty=True, remembered=kept)
    assert fourth == third


async def test_tokens_kept_for_another_database_are_not_shown(tmp_path: Path) -> None:
    kept = tmp_path / "var" / "demo-tokens.json"
    printed = []
    for name in ("one.db", "two.db"):
        settings = make_settings(f"sqlite:///{tmp_path / name}")
        await asyncio.to_thread(upgrade, settings.database_url)
        printed.append(await _seed_and_tokens(settings, seed_if_empty=True, remembered=kept))

    assert not {t for _, _, t in printed[0]} & {t for _, _, t in printed[1]}


async def test_without_a_file_each_run_mints_new_tokens(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'demo.db'}")
    await asyncio.to_thread(upgrade, settings.database_url)

    first = await _seed_and_tokens(settings, seed_if_empty=True, remembered=None)
    second = await _seed_and_tokens(settings, seed_if_empty=True, remembered=None)

    assert not {t for _, _, t in first} & {t for _, _, t in second}
