"""Liveness and readiness.

`/livez` says the process answers; `/ready` says it can do its work: the database answers
and is at the latest migration, and the broker (when one is configured) accepts a
connection. A load balancer sends traffic only to ready processes and restarts dead ones.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import lru_cache
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.config import Settings

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0

Check = Callable[[], Awaitable[str]]


async def livez(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


@lru_cache(maxsize=1)
def migration_heads() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    from app.migrate import alembic_config

    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def database_check(engine: AsyncEngine) -> Check:
    async def check() -> str:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            current = frozenset(str(r[0]) for r in rows)
        heads = migration_heads()
        if current != heads:
            return f"migrations not at head (at {', '.join(sorted(current)) or 'none'})"
        return "ok"

    return check


def broker_check(broker_url: str) -> Check:
    parts = urlsplit(broker_url)
    default_port = 6379 if parts.scheme.startswith("redis") else 5672
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port

    async def check() -> str:
        # A TCP connection and, for Redis, a PING: enough to know the broker takes work,
        # without a client library's own retries hiding an outage.
        reader, writer = await asyncio.open_connection(host, port)
        try:
            if parts.scheme.startswith("redis"):
                writer.write(b"PING\r\n")
                await writer.drain()
                answer = await reader.readline()
                if not answer.startswith(b"+PONG") and not answer.startswith(b"-NOAUTH"):
                    return f"unexpected answer {answer[:40]!r}"
        finally:
            writer.close()
        return "ok"

    return check


def readiness_checks(settings: Settings, engine: AsyncEngine) -> dict[str, Check]:
    checks = {"database": database_check(engine)}
    if settings.broker_url:
        checks["broker"] = broker_check(settings.broker_url)
    return checks


async def run_checks(checks: dict[str, Check]) -> dict[str, str]:
    async def one(name: str, check: Check) -> tuple[str, str]:
        try:
            return name, await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
        except TimeoutError:
            return name, f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"
        except Exception as exc:
            # The reason an operator needs, without a traceback per probe.
            logger.info("readiness check %s failed: %r", name, exc)
            return name, f"unreachable: {type(exc).__name__}"

    results = await asyncio.gather(*(one(n, c) for n, c in checks.items()))
    return dict(results)


def ready_endpoint(checks: dict[str, Check]) -> Callable[[Request], Awaitable[Response]]:
    async def ready(_: Request) -> Response:
        results = await run_checks(checks)
        ok = all(v == "ok" for v in results.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": results},
            status_code=200 if ok else 503,
        )

    return ready
