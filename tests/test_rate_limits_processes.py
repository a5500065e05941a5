"""Two real `roundtable api` processes on one PostgreSQL database and one Redis share their
rate limits, and neither writes OAuth codes or states to its access log."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import SECRET
from tests.factories import make_world
from tests.services import REDIS_URL, require_service
from tests.test_cli import _clean_env, _free_port

ISSUE = "mutation($id: ID!) { issueApiToken(userId: $id) { token errors { code } } }"
BAD_TOKEN = "rt_" + "y" * 43


@pytest.fixture
def redis_url() -> str:
    parts = urlsplit(REDIS_URL)
    require_service("Redis", parts.hostname or "127.0.0.1", parts.port or 6379)
    return REDIS_URL


@pytest.fixture
def api_processes(
    database_url: str, redis_url: str, tmp_path: Path
) -> Iterator[tuple[list[str], list[Path]]]:
    if not database_url.startswith("postgres"):
        pytest.skip("runs once, on PostgreSQL")
    env = {
        **_clean_env(),
        "ROUNDTABLE_DATABASE_URL": database_url,
        "ROUNDTABLE_SECRET_KEY": SECRET,
        "ROUNDTABLE_RATE_LIMIT_STORAGE_URL": redis_url,
        "ROUNDTABLE_RATE_LIMIT_MUTATIONS": "3/minute",
        "ROUNDTABLE_RATE_LIMIT_FAILED_AUTH": "3/minute",
    }
    procs: list[subprocess.Popen[str]] = []
    logs: list[Path] = []
    files: list[IO[str]] = []
    urls: list[str] = []
    try:
        for n in range(2):
            port = _free_port()
            log = tmp_path / f"api{n}.log"
            out = log.open("w")
            files.append(out)
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "app.cli", "api", "--port", str(port)],
                    cwd=tmp_path,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
            logs.append(log)
            urls.append(f"http://127.0.0.1:{port}")
        for url, proc in zip(urls, procs, strict=True):
            _wait_until_up(url, proc)
        yield urls, logs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for out in files:
            out.close()


def _wait_until_up(url: str, proc: subprocess.Popen[str]) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise AssertionError(f"the API process ended with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def _random_loopback() -> str:
    """A client address of its own, so no other suite on this machine shares its counter."""
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


async def _post(
    http: httpx.AsyncClient, url: str, query: str, variables: dict[str, Any], token: str
) -> httpx.Response:
    return await http.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


async def test_two_api_processes_share_the_limits_and_keep_secrets_out_of_their_logs(
    session: AsyncSession, api_processes: tuple[list[str], list[Path]]
) -> None:
    urls, logs = api_processes
    world = await make_world(session)
    one, two = urls
    variables = {"id": str(world.a.member.id)}
    admin = world.token(world.admin)

    async with httpx.AsyncClient() as http:
        mutations = [await _post(http, url, ISSUE, variables, admin) for url in (one, two, one)]
        mutation_past = await _post(http, two, ISSUE, variables, admin)
        callback = await http.get(
            f"{one}/oauth/google/callback",
            params={"code": "SECRET-CODE-1", "state": "SECRET-STATE-1"},
        )
    transport = httpx.AsyncHTTPTransport(local_address=_random_loopback())
    async with httpx.AsyncClient(transport=transport) as http:
        failed = [await _post(http, url, "{ me { id } }", {}, BAD_TOKEN) for url in (two, one, two)]
        failed_past = await _post(http, one, "{ me { id } }", {}, BAD_TOKEN)

    assert [r.status_code for r in mutations] == [200] * 3
    assert all(r.json()["data"]["issueApiToken"]["errors"] == [] for r in mutations)
    assert mutation_past.status_code == 429
    assert mutation_past.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert 1 <= int(mutation_past.headers["retry-after"]) <= 60
    assert [r.status_code for r in failed] == [200] * 3
    assert failed_past.status_code == 429
    assert failed_past.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert callback.status_code == 404  # Google is not configured on these processes

    # The access log's handler flushes every line; it may come a moment after the answer.
    text = ""
    for _ in range(100):
        text = "".join(path.read_text() for path in logs)
        if "GET /oauth/google/callback?" in text:
            break
        await asyncio.sleep(0.1)
    assert "GET /oauth/google/callback?" in text, text[-2000:]
    assert "SECRET-" not in text
    assert "code=[redacted]" in text and "state=[redacted]" in text
