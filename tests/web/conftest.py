"""A real uvicorn serving Roundtable on a loopback port, its mails as .eml files, a browser."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.db import create_engine, create_session_factory
from app.main import create_app
from app.migrate import upgrade
from app.workers.background import Background
from app.workers.options import WorkerOptions
from tests.conftest import ROOT, SECRET, Clock
from tests.services import IN_CI
from tests.workers.conftest import NEVER_HOURS

CHROMIUM = Path(os.environ.get("ROUNDTABLE_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LINK = re.compile(r"https?://[^\s\"'<>]+")


def require_browser() -> None:
    """Debian's chromium and Playwright for Python: skip without them, fail in CI."""
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    else:
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            problem = "Playwright for Python is not installed (pip install -e '.[dev]')"
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"browser tests need a browser: {problem}", pytrace=False)
    pytest.skip(f"browser tests skipped: {problem}")


class FakeMeet(threading.Thread):
    """A meeting server on loopback: every room answers 200, so join links can be followed."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = f"<html><body>Meeting room {self.path}</body></html>".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def run(self) -> None:
        self.server.serve_forever()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class LiveServer:
    url: str
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    mail_dir: Path
    http: httpx.AsyncClient
    seen: set[str] = field(default_factory=set)

    def sessions(self) -> AsyncSession:
        return create_session_factory(self.engine)()

    def mails(self) -> list[EmailMessage]:
        parser = BytesParser(policy=policy.default)
        return [
            parser.parsebytes(path.read_bytes()) for path in sorted(self.mail_dir.glob("*.eml"))
        ]

    async def wait_for_mail(
        self, *, to: str, subject: str, deadline_seconds: float = 30
    ) -> EmailMessage:
        """The first mail to `to` whose subject contains `subject`, not returned before."""
        end = time.monotonic() + deadline_seconds
        while time.monotonic() < end:
            for mail in self.mails():
                key = str(mail["Message-ID"])
                if key in self.seen or str(mail["To"]) != to or subject not in str(mail["Subject"]):
                    continue
                self.seen.add(key)
                return mail
            await asyncio.sleep(0.1)
        raise AssertionError(f"no mail to {to} about {subject!r} was written")

    async def graphql(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def text_of(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def link_in(mail: EmailMessage, label: str) -> str:
    found = re.search(rf"{re.escape(label)}: (\S+)", text_of(mail))
    assert found, f"no {label!r} link in: {text_of(mail)}"
    return found.group(1)


def _serve(app: Any, sock: socket.socket) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    end = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > end or not thread.is_alive():
            raise AssertionError("uvicorn did not start")
        time.sleep(0.02)
    return server, thread


@pytest.fixture
def fake_meet() -> Iterator[FakeMeet]:
    meet = FakeMeet()
    meet.start()
    yield meet
    meet.stop()


@pytest.fixture
async def live(tmp_path: Path, fake_meet: FakeMeet) -> AsyncIterator[LiveServer]:
    """Roundtable as `roundtable serve` runs it: uvicorn, SQLite, in-process worker, .eml."""
    url = f"sqlite:///{tmp_path / 'live.db'}"
    await asyncio.to_thread(upgrade, url)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    public_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(
        database_url=url,
        secret_key=SECRET,
        public_url=public_url,
        mail_dir=tmp_path / "mail",
        reminder_after_hours=NEVER_HOURS,
        jitsi_url=fake_meet.url,
    )
    clock = Clock(now=datetime.now(UTC).replace(microsecond=0))
    background = Background(
        settings,
        in_process_worker=True,
        options=WorkerOptions(sweep_interval_seconds=0.2, embedded_threads=2),
    )
    app = create_app(
        settings,
        clock=clock,
        on_outbox_written=background.wake,
        lifespan_hooks=[background.lifespan],
    )
    server, thread = _serve(app, sock)
    engine = create_engine(settings)
    try:
        async with httpx.AsyncClient(base_url=public_url, timeout=30) as http:
            yield LiveServer(public_url, settings, clock, engine, tmp_path / "mail", http)
    finally:
        await engine.dispose()
        server.should_exit = True
        await asyncio.to_thread(thread.join, 30)
        sock.close()


def screenshot_dir(request: pytest.FixtureRequest) -> Path:
    """var/screenshots/<test name>/: kept after the run for a person to look at."""
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    folder = ROOT / "var" / "screenshots" / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder
