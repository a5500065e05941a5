"""What watching costs: a small GraphQL query with traces off and on, and a /metrics scrape.

Against a fresh SQLite file, in this process (httpx's ASGI transport, no network), so the
figures are the application's own time. Traces "on" export to memory through the same
batch processor production uses.

    .venv/bin/python bench/ops_bench.py [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

import httpx
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.config import Settings
from app.db import create_engine, create_session_factory
from app.main import create_app
from app.migrate import upgrade
from app.models import Role
from app.ops import tracing
from app.people import service
from app.people.tokens import issue_token

ME = "query Me { me { id email } }"


async def token_for(settings: Settings) -> str:
    engine = create_engine(settings)
    try:
        async with create_session_factory(engine)() as session:
            user = await service.create_user(
                session=session,
                email="bench@example.com",
                name="Bench",
                role=Role.ADMIN,
                time_zone="UTC",
                organization_id=None,
            )
            issued = await issue_token(session=session, user=user)
            await session.commit()
            return issued.token
    finally:
        await engine.dispose()


async def timed(settings: Settings, token: str, path: str, requests: int) -> list[float]:
    engine = create_engine(settings)  # made after tracing starts, so it is traced too
    app = create_app(settings, engine=engine)
    seconds: list[float] = []
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench"
        ) as http:
            for _ in range(requests + 20):  # the first 20 warm up
                started = time.perf_counter()
                if path == "/graphql":
                    answer = await http.post(
                        path, json={"query": ME}, headers={"Authorization": f"Bearer {token}"}
                    )
                else:
                    answer = await http.get(path)
                seconds.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text
    finally:
        await engine.dispose()
    return seconds[20:]


def show(label: str, seconds: list[float]) -> None:
    ms = sorted(s * 1000 for s in seconds)
    print(
        f"{label:<34} median {statistics.median(ms):6.2f} ms   "
        f"p95 {ms[int(len(ms) * 0.95) - 1]:6.2f} ms   ({len(ms)} requests)"
    )


async def main(requests: int) -> None:
    directory = tempfile.mkdtemp(prefix="roundtable-ops-bench-")
    url = f"sqlite:///{directory}/bench.db"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(database_url=url, secret_key="b" * 40, rate_limits=False)
    token = await token_for(settings)
    show("/metrics scrape", await timed(settings, token, "/metrics", requests))
    # Alternating rounds, so that warming up and the machine's other load fall on both.
    exporter = InMemorySpanExporter()
    processor = BatchSpanProcessor(exporter)
    off: list[float] = []
    on: list[float] = []
    tracing.start_tracing("roundtable-bench", processor=processor)
    tracing.stop_tracing()  # the provider stays; each round below turns traces on again
    for _ in range(3):
        off += await timed(settings, token, "/graphql", requests // 3)
        tracing.start_tracing("roundtable-bench", processor=_Noop())
        try:
            on += await timed(settings, token, "/graphql", requests // 3)
        finally:
            tracing.stop_tracing()
    show("GraphQL `me`, traces off", off)
    show("GraphQL `me`, traces on", on)
    spans = exporter.get_finished_spans()
    print(f"spans exported with traces on: {len(spans) / (requests // 3 + 20) / 3:.1f} per request")


class _Noop(SpanProcessor):
    """start_tracing adds the processor it is given: the first round's is the only one."""

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    asyncio.run(main(parser.parse_args().requests))
