"""Limits seen from a real uvicorn server: bombs do not stall /health, bodies are bounded."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from app.cli import uvicorn_options
from app.main import create_app
from app.migrate import upgrade
from tests.conftest import make_settings
from tests.test_limits_query import fragment_bomb

MAX_BYTES = 20_000
BODY_TIMEOUT = 0.5
FAIL_AFTER = 20.0  # seconds a socket waits before the test fails instead of hanging


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """The API on a free port, in a thread, on a migrated SQLite file (for /health)."""
    url = f"sqlite:///{tmp_path / 'limits.db'}"
    upgrade(url)
    settings = make_settings(
        url,
        max_request_bytes=MAX_BYTES,
        request_body_timeout_seconds=BODY_TIMEOUT,
    )
    options = {**uvicorn_options(settings), "log_level": "warning", "log_config": None}
    config = uvicorn.Config(create_app(settings), **options)
    server = uvicorn.Server(config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        threading.Event().wait(0.05)
    assert server.started
    yield "127.0.0.1", port
    server.should_exit = True
    thread.join(FAIL_AFTER)
    sock.close()


def _raw(address: tuple[str, int], head: bytes, body_parts: list[bytes], pause: float = 0) -> bytes:
    """Send a request by hand (to lie about its length), return everything until close."""
    with socket.create_connection(address, timeout=FAIL_AFTER) as conn:
        conn.sendall(head)
        try:
            for part in body_parts:
                conn.sendall(part)
                if pause:
                    threading.Event().wait(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed while the body was still coming
        received = b""
        try:
            while chunk := conn.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return received  # recv returned b"": the server closed the connection


def _status_and_json(raw: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_health_answers_while_fragment_bombs_are_posted(server: tuple[str, int]) -> None:
    host, port = server
    base = f"http://{host}:{port}"
    with httpx.Client(base_url=base, timeout=FAIL_AFTER) as http:

        def bomb(levels: int) -> dict[str, Any]:
            response = http.post("/graphql", json={"query": fragment_bomb(levels)})
            return response.json()  # type: ignore[no-any-return]

        with ThreadPoolExecutor(max_workers=6) as pool:
            bombs = [pool.submit(bomb, levels) for levels in (22, 40, 22, 40)]
            health = [pool.submit(http.get, probe) for probe in ["/health", "/livez"] * 5]
            answers = [b.result() for b in bombs]
            statuses = [h.result().status_code for h in health]
        assert statuses == [200] * 10
        assert http.get("/health").status_code == 200  # and after
    for answer in answers:
        assert answer["errors"][0]["extensions"] == {"code": "QUERY_TOO_COMPLEX"}


def test_announced_oversized_body_is_refused_before_it_is_read(server: tuple[str, int]) -> None:
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000000\r\n\r\n"
    )
    status, body = _status_and_json(_raw(server, head, [b"{"]))
    assert status == 413
    assert body["errors"][0]["extensions"] == {"code": "REQUEST_TOO_LARGE"}


def test_chunked_body_is_cut_off_past_the_limit(server: tuple[str, int]) -> None:
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * 4096
    parts = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * 1000  # 4 MB, never finished
    status, body = _status_and_json(_raw(server, head, parts))
    assert status == 413
    assert "20,000 bytes" in body["errors"][0]["message"]


def test_body_that_trickles_in_is_answered_408_and_closed(server: tuple[str, int]) -> None:
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n"
    )
    # One byte, then silence: the server must not wait for the other 999.
    status, body = _status_and_json(_raw(server, head, [b"{"]))
    assert status == 408
    assert body["errors"][0]["extensions"] == {"code": "REQUEST_TIMEOUT"}


def _padded_query(size: int) -> bytes:
    """A valid GraphQL request of exactly `size` bytes."""
    base = json.dumps({"query": "{ __typename }", "pad": ""}).encode()
    return base.replace(b'"pad": ""', b'"pad": "' + b"x" * (size - len(base)) + b'"')


def test_body_limit_at_its_edge(server: tuple[str, int]) -> None:
    host, port = server
    with httpx.Client(base_url=f"http://{host}:{port}", timeout=FAIL_AFTER) as http:
        headers = {"Content-Type": "application/json"}
        at_limit = http.post("/graphql", content=_padded_query(MAX_BYTES), headers=headers)
        assert at_limit.status_code == 200
        assert at_limit.json() == {"data": {"__typename": "Query"}}
        over = http.post("/graphql", content=_padded_query(MAX_BYTES + 1), headers=headers)
        assert over.status_code == 413

        def chunks(size: int) -> Iterator[bytes]:  # no Content-Length: chunked
            data = _padded_query(size)
            yield from (data[i : i + 1000] for i in range(0, len(data), 1000))

        chunked = http.post("/graphql", content=chunks(MAX_BYTES), headers=headers)
        assert chunked.status_code == 200
        chunked = http.post("/graphql", content=chunks(MAX_BYTES + 1), headers=headers)
        assert chunked.status_code == 413
