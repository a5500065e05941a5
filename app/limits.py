"""Request bodies: at most `max_request_bytes`, read within `request_body_timeout_seconds`.

The body is read here, counted as it streams in, before any route sees it: a body over the
limit is refused with 413 as soon as it passes the limit (a Content-Length that announces
too much is refused before a byte is read; a lying Content-Length or a chunked body is cut
off when the count passes the limit), and a body that trickles in is answered 408 at the
deadline. Either way the connection is closed, so the rest of the body is never read.
Bodies within the limit are handed to the app unchanged.
"""

from __future__ import annotations

import asyncio
import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class BodyLimits:
    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_announced_length(scope)
            body = await self._read_body(receive)
        except _Refused as refused:
            logger.info(
                "refused %s %s: %s", scope.get("method"), scope.get("path"), refused.message
            )
            await _send_refusal(send, refused)
            return
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self) -> _Refused:
        return _Refused(
            413,
            "REQUEST_TOO_LARGE",
            f"The request body is larger than {self.max_bytes:,} bytes.",
        )

    def _check_announced_length(self, scope: Scope) -> None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    announced = int(value)
                except ValueError:
                    raise _Refused(400, "BAD_REQUEST", "Content-Length is not a number.") from None
                if announced > self.max_bytes:
                    raise self._too_large()

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.timeout_seconds):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        break  # the client went away; the app sees an empty body
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise self._too_large()
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            raise _Refused(
                408,
                "REQUEST_TIMEOUT",
                f"The request body did not arrive within {self.timeout_seconds:g} seconds.",
            ) from None
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as servers do

    return replay


async def _send_refusal(send: Send, refused: _Refused) -> None:
    # GraphQL-shaped, so a GraphQL client shows the message like any other error.
    payload = json.dumps(
        {"errors": [{"message": refused.message, "extensions": {"code": refused.code}}]}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": refused.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),  # the unread rest of the body must not be parsed
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
