"""Headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against real servers.

Servers are real uvicorn instances on loopback ports, each in its own thread with its own
event loop, so the browser talks HTTP over sockets exactly as it would in production.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, async_playwright
from starlette.types import ASGIApp

from app.config import Settings
from app.db import create_engine, create_session_factory
from app.migrate import upgrade
from app.models import Role
from app.people import service
from app.people.tokens import issue_token
from tests.conftest import make_settings
from tests.services import IN_CI

CHROMIUM = Path(os.environ.get("ROUNDTABLE_TEST_CHROMIUM", "/usr/bin/chromium"))
# As the machine notes say: without the background-networking flags Chromium keeps trying
# to reach Google's hosts from this closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        message = f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture
async def browser(chromium_path: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@contextlib.contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Run `app` under uvicorn on a free loopback port; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", ws="none", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            threading.Event().wait(0.01)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """Its own migrated SQLite file: the server thread opens its own engine on it."""
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    upgrade(url)
    return make_settings(url)


async def admin_token(settings: Settings) -> str:
    """An admin and their token, written through an engine of the test's own loop."""
    engine = create_engine(settings)
    try:
        async with create_session_factory(engine)() as session:
            admin = await service.create_user(
                session=session,
                email="admin@example.com",
                name="Ada Admin",
                role=Role.ADMIN,
                time_zone="UTC",
                organization_id=None,
            )
            issued = await issue_token(session=session, user=admin)
            await session.commit()
            return issued.token
    finally:
        await engine.dispose()
