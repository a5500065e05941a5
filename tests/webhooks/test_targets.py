"""Targets: private addresses refused at delivery too, redirects never followed."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import begin_write
from app.models import WebhookEndpoint, utcnow
from app.outbox.errors import PermanentDeliveryError, TransientDeliveryError
from app.outbox.processing import ClaimedMessage
from app.webhooks.delivery import deliver_webhook
from app.webhooks.signing import SecretCipher
from app.webhooks.targets import TargetRefused, check_target
from app.workers.runtime import WorkerRuntime
from tests.conftest import SECRET, make_settings


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://localhost/x",
        "http://10.0.0.8/x",
        "http://192.168.1.1/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://0.0.0.0/x",
    ],
)
async def test_non_public_targets_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused):
        await check_target(url, allow_private=False)
    await check_target(url, allow_private=True)


async def test_a_public_address_is_accepted() -> None:
    await check_target("https://93.184.215.14/hooks", allow_private=False)


class Redirecting(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_POST(self) -> None:
        Redirecting.hits.append(self.path)
        self.send_response(307 if self.path == "/hooks" else 200)
        self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def redirecting() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    server.shutdown()
    server.server_close()


def claimed(endpoint_id: uuid.UUID) -> ClaimedMessage:
    payload = {"endpoint_id": str(endpoint_id), "event_id": "e", "body": "{}", "seq": None}
    return ClaimedMessage(uuid.uuid4(), "webhook", payload, utcnow(), 1)


async def deliver_to(url: str, settings: Settings, session: AsyncSession) -> None:
    await begin_write(session)
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(), url=url, secret_ciphertext=SecretCipher(SECRET).encrypt("s")
    )
    session.add(endpoint)
    await session.commit()
    runtime = WorkerRuntime(settings)
    try:
        await deliver_webhook(claimed(endpoint.id), runtime=runtime)
    finally:
        await runtime.close()


async def test_redirects_are_not_followed(
    database_url: str, session: AsyncSession, redirecting: str
) -> None:
    settings = make_settings(database_url, webhook_allow_private=True)
    Redirecting.hits.clear()
    with pytest.raises(TransientDeliveryError, match=r"307.*not followed"):
        await deliver_to(redirecting, settings, session)
    assert Redirecting.hits == ["/hooks"]


async def test_a_private_target_is_refused_at_delivery(
    database_url: str, session: AsyncSession, redirecting: str
) -> None:
    Redirecting.hits.clear()
    with pytest.raises(PermanentDeliveryError, match="target refused"):
        await deliver_to(redirecting, make_settings(database_url), session)
    assert Redirecting.hits == []
