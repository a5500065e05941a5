"""What authentication and the rate limiter cost a request, and how a bad-token flood ends.

Sends `{ me { id } }` with a valid token through the app in-process (httpx's ASGI
transport, a fresh SQLite file) with rate limits off, counted in memory, and counted in
Redis; then 2,000 bad-token requests from one address with the default limits.

    .venv/bin/python bench/rate_limits_bench.py [--redis redis://127.0.0.1:6379/15] [-n 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections import Counter
from typing import Any

import httpx

from app.config import Settings
from app.db import create_engine, create_session_factory
from app.main import create_app
from app.migrate import upgrade
from app.models import Role
from app.people import service
from app.people.tokens import issue_token
from app.ratelimit import RateLimiter

SECRET = "bench-secret-" + "x" * 40


async def _token(settings: Settings) -> str:
    engine = create_engine(settings)
    try:
        async with create_session_factory(engine)() as session:
            user = await service.create_user(
                session=session,
                email=f"bench-{uuid.uuid4().hex[:8]}@example.com",
                name="Bench",
                role=Role.CANDIDATE,
                time_zone="UTC",
                organization_id=None,
            )
            issued = await issue_token(session=session, user=user)
            await session.commit()
            return issued.token
    finally:
        await engine.dispose()


async def _run(settings: Settings, token: str, n: int) -> tuple[list[float], Counter[int]]:
    limiter = RateLimiter(settings, key_prefix=f"bench-{uuid.uuid4().hex}")
    app = create_app(settings, rate_limiter=limiter)
    timings: list[float] = []
    statuses: Counter[int] = Counter()
    body: dict[str, Any] = {"query": "{ me { id } }"}
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench"
        ) as http:
            for _ in range(n):
                started = time.perf_counter()
                response = await http.post("/graphql", json=body, headers=headers)
                timings.append((time.perf_counter() - started) * 1000)
                statuses[response.status_code] += 1
    finally:
        await limiter.aclose()
    return timings, statuses


def _summary(label: str, timings: list[float], statuses: Counter[int]) -> None:
    timings = sorted(timings)
    p50 = statistics.median(timings)
    p99 = timings[int(len(timings) * 0.99) - 1]
    print(f"{label:<34} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  statuses {dict(statuses)}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("-n", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        await asyncio.to_thread(upgrade, url)
        base = Settings(database_url=url, secret_key=SECRET, rate_limit_mutations="100000/minute")
        token = await _token(base)
        await _run(base, token, 50)  # warm up imports and the SQLite file
        for label, overrides in [
            ("valid token, limits off", {"rate_limits": False}),
            ("valid token, limits in memory", {}),
            ("valid token, limits in Redis", {"rate_limit_storage_url": args.redis}),
        ]:
            settings = base.model_copy(update=overrides)
            _summary(label, *await _run(settings, token, args.n))
        flood = base.model_copy(update={"rate_limit_storage_url": args.redis})
        _summary("2,000 bad tokens, one address", *await _run(flood, "rt_" + "z" * 43, 2000))


if __name__ == "__main__":
    asyncio.run(main())
