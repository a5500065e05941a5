"""A real SMTP server on loopback (aiosmtpd) that records what it accepts, and can misbehave."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Received:
    rcpt_tos: list[str]
    message: EmailMessage
    at: float  # time.time() when accepted: only the benchmark reads it


@dataclass
class Hold:
    """After `accept_first` mails, every DATA waits here until `release` (the crash test)."""

    accept_first: int
    waiting: int = 0
    released: threading.Event = field(default_factory=threading.Event)
    answer: str = "451 4.3.0 try again later"


class RecordingHandler:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.scripted: deque[str] = deque()  # replies to DATA before accepting normally
        self.rejected_rcpt: set[str] = set()
        self.hold: Hold | None = None
        self.data_calls = 0
        self.admitted = 0
        # When set, a QUIT is answered only once this is set (5 s at most).
        self.quit_gate: threading.Event | None = None
        self.quits_answered = 0

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        gate = self.quit_gate
        if gate is not None:
            await asyncio.to_thread(gate.wait, 5)
        with self.lock:
            self.quits_answered += 1
        return "221 Bye"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.rejected_rcpt:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.data_calls += 1
            if self.scripted:
                return self.scripted.popleft()
            hold = self.hold
            if hold is not None and self.admitted >= hold.accept_first:
                hold.waiting += 1
            else:
                hold = None
                self.admitted += 1  # counted here, so concurrent mails cannot both slip past
        if hold is not None:
            await asyncio.to_thread(hold.released.wait)
            return hold.answer
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.received.append(Received(list(envelope.rcpt_tos), message, time.time()))
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [r.message for r in self.received]

    def message_ids(self) -> Counter[str]:
        return Counter(str(m["Message-ID"]).strip() for m in self.messages())


class SmtpServer:
    def __init__(self) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.controller.stop()
