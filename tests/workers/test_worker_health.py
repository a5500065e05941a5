"""The worker's health check reads its exposition: healthy only after a recent sweep."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from app.ops.worker_health import check
from tests.workers.smtp import free_port

NOW = 1_800_000_000.0


@pytest.fixture
def exposition() -> Iterator[tuple[str, list[str]]]:
    """A loopback server answering whatever text the test puts in the list."""
    body: list[str] = [""]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = body[0].encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", body
    finally:
        server.shutdown()
        server.server_close()


def swept(at: float) -> str:
    return (
        "# TYPE roundtable_worker_last_sweep_timestamp_seconds gauge\n"
        f"roundtable_worker_last_sweep_timestamp_seconds {at}\n"
    )


def test_a_recent_sweep_is_healthy(exposition: tuple[str, list[str]]) -> None:
    url, body = exposition
    body[0] = swept(NOW - 30)
    assert check(url, 120, NOW) is None


def test_a_stale_sweep_is_unhealthy(exposition: tuple[str, list[str]]) -> None:
    url, body = exposition
    body[0] = swept(NOW - 300)
    assert check(url, 120, NOW) == "last sweep 300 s ago (more than 120 s)"


def test_no_sweep_yet_is_unhealthy(exposition: tuple[str, list[str]]) -> None:
    url, body = exposition
    body[0] = "# TYPE dramatiq_messages_total counter\n"
    assert check(url, 120, NOW) == "no sweep finished yet"


def test_no_exposition_is_unhealthy() -> None:
    problem = check(f"http://127.0.0.1:{free_port()}/", 120, NOW)
    assert problem is not None and problem.startswith("no metrics at")
