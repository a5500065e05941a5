"""A real HTTP receiver on loopback that checks signatures, fails on purpose and records."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_SECONDS = 300


def verify(secret: str, header: str, body: bytes, *, now: int) -> bool:
    """The receiver's own check, written from the spec (not Roundtable's code):
    `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`."""
    fields = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    if "t" not in fields or "v1" not in fields or not fields["t"].isdigit():
        return False
    if abs(now - int(fields["t"])) > TOLERANCE_SECONDS:
        return False
    mac = hmac.new(secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), fields["v1"])


@dataclass
class Received:
    event: dict[str, Any]
    status: int
    signed: bool


@dataclass
class Receiver:
    """`answer(event, attempts_of_this_id, requests_so_far)` decides the status code."""

    answer: Callable[[dict[str, Any], int, int], int] = lambda *_: 200
    secret: str = ""
    log: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def accepted(self) -> list[dict[str, Any]]:
        """Events answered 200, first arrival of each id only (what a deduplicating receiver
        keeps), in arrival order."""
        seen: set[str] = set()
        kept = []
        with self.lock:
            for item in self.log:
                if item.status == 200 and item.event["id"] not in seen:
                    seen.add(item.event["id"])
                    kept.append(item.event)
        return kept

    @classmethod
    def running(cls, **kwargs: Any) -> Iterator[Receiver]:
        receiver = cls(**kwargs)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                signed = verify(
                    receiver.secret,
                    self.headers.get("Roundtable-Signature", ""),
                    body,
                    now=int(time.time()),
                )
                event = json.loads(body)
                with receiver.lock:
                    attempts = sum(1 for r in receiver.log if r.event["id"] == event["id"])
                    status = receiver.answer(event, attempts, len(receiver.log)) if signed else 401
                    receiver.log.append(Received(event, status, signed))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        receiver.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield receiver
        finally:
            server.shutdown()
            server.server_close()
