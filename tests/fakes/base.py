"""What both fake providers share: a uvicorn server in a thread, an OAuth token endpoint,
bearer tokens, and faults that tests switch on (5xx, 429 with Retry-After, slow answers,
and failures that happen after the request was carried out, as a lost answer would)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ErrorFactory = Callable[[int, float | None], Response]


class Reply(Exception):
    """Raised by a handler to answer at once (see `reply_handler`)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def reply_handler(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, Reply)
    return exc.response


@dataclass
class Hold:
    """A call the fake keeps open until the test releases it (or `seconds` pass): a slow
    provider whose slowness the test controls, so it can order things around the call."""

    seconds: float
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    answered: threading.Event = field(default_factory=threading.Event)

    async def wait_entered(self) -> None:
        if not await asyncio.to_thread(self.entered.wait, 10.0):
            raise AssertionError("the held provider call never arrived")


@dataclass(frozen=True)
class Fault:
    status: int = 503  # 0: no error, only the delay
    retry_after: float | None = None
    # Carry the request out, then answer with the error: the client never learns it worked.
    after: bool = False
    delay: float = 0.0
    hold: Hold | None = None


@dataclass
class FaultPlan:
    """Scripted and random failures of the API (the token endpoint is not affected)."""

    queue: deque[Fault] = field(default_factory=deque)
    rate: float = 0.0
    statuses: tuple[int, ...] = (500, 503, 429)
    retry_after: float | None = 1.0
    delay: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    calls: list[tuple[str, str]] = field(default_factory=list)
    injected: int = 0  # failures answered so far
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(
        self,
        status: int = 503,
        *,
        times: int = 1,
        retry_after: float | None = None,
        after: bool = False,
        delay: float = 0.0,
    ) -> None:
        with self.lock:
            for _ in range(times):
                self.queue.append(Fault(status, retry_after, after, delay))

    def hold_next(self, seconds: float = 3.0) -> Hold:
        """Keep the next call open until released, `seconds` at most, then answer it."""
        hold = Hold(seconds)
        with self.lock:
            self.queue.append(Fault(status=0, hold=hold))
        return hold

    def slow_next(self, seconds: float, *, times: int = 1) -> None:
        """Answer the next calls correctly, but only after `seconds`."""
        with self.lock:
            for _ in range(times):
                self.queue.append(Fault(status=0, delay=seconds))

    def fail_randomly(
        self,
        rate: float,
        *,
        seed: int = 0,
        statuses: tuple[int, ...] = (500, 503, 429),
        retry_after: float | None = 1.0,
    ) -> None:
        with self.lock:
            self.rate, self.statuses, self.retry_after = rate, statuses, retry_after
            self.rng = random.Random(seed)

    def reset(self) -> None:
        with self.lock:
            self.queue.clear()
            self.rate, self.delay = 0.0, 0.0
            self.calls.clear()
            self.injected = 0

    def take(self, method: str, path: str) -> Fault | None:
        with self.lock:
            self.calls.append((method, path))
            if self.queue:
                self.injected += 1
                return self.queue.popleft()
            if self.rate and self.rng.random() < self.rate:
                self.injected += 1
                status = self.rng.choice(self.statuses)
                # Half of the failures land after the work was done: the worst case.
                after = self.rng.random() < 0.5
                return Fault(status, self.retry_after if status == 429 else None, after)
        return None


class FaultyApp:
    """Wraps the API app: records every call and applies the fault plan."""

    def __init__(self, app: ASGIApp, plan: FaultPlan, error: ErrorFactory) -> None:
        self.app, self.plan, self.error = app, plan, error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fault = self.plan.take(scope["method"], scope["path"])
        delay = self.plan.delay + (fault.delay if fault else 0.0)
        if delay:
            await asyncio.sleep(delay)
        if fault is not None and fault.hold is not None:
            hold = fault.hold
            hold.entered.set()
            await asyncio.to_thread(hold.release.wait, hold.seconds)
            await self.app(scope, receive, send)
            hold.answered.set()
            return
        if fault is None or fault.status == 0:
            await self.app(scope, receive, send)
            return
        if fault.after:

            async def swallow(_: Message) -> None:
                return None

            await self.app(scope, receive, swallow)
        await self.error(fault.status, fault.retry_after)(scope, receive, send)


@dataclass
class Grant:
    email: str
    expires_at: float


class OAuthFake:
    """Authorization codes, access and refresh tokens for accounts named by email."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        rotate_refresh_tokens: bool,
        scope: str,
        default_email: str = "demo@example.com",
    ) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.scope = scope
        self.default_email = default_email
        self.codes: dict[str, tuple[str, str]] = {}  # code -> (email, redirect_uri)
        self.access: dict[str, Grant] = {}
        self.refresh: dict[str, str] = {}  # refresh token -> email
        self.revoked: set[str] = set()
        self.token_lifetime = 3600
        self.token_requests: list[dict[str, str]] = []
        self.lock = threading.Lock()

    # -- what tests do ------------------------------------------------------------------

    def issue_code(self, email: str, redirect_uri: str = "") -> str:
        """The user consents at the provider: the code the redirect would carry."""
        code = "code-" + secrets.token_urlsafe(12)
        with self.lock:
            self.codes[code] = (email.lower(), redirect_uri)
        return code

    def issue_tokens(self, email: str, *, expires_in: int | None = None) -> dict[str, Any]:
        """Tokens as if the user had connected earlier (skips the consent step)."""
        return self._grant(email.lower(), refresh=None, expires_in=expires_in)

    def revoke(self, email: str) -> None:
        """The user revokes Roundtable's access at the provider."""
        with self.lock:
            for token, owner in list(self.refresh.items()):
                if owner == email.lower():
                    self.revoked.add(token)
            for token, grant in list(self.access.items()):
                if grant.email == email.lower():
                    del self.access[token]

    def expire_access_tokens(self) -> None:
        with self.lock:
            for grant in self.access.values():
                grant.expires_at = 0.0

    def reset(self) -> None:
        with self.lock:
            self.codes.clear()
            self.access.clear()
            self.refresh.clear()
            self.revoked.clear()
            self.token_requests.clear()

    # -- what the API checks ------------------------------------------------------------

    def email_for(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        grant = self.access.get(token.strip())
        if grant is None or grant.expires_at < time.time():
            return None
        return grant.email

    # -- the endpoints ------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        """The consent page, consenting at once as login_hint (or the default account)."""
        params = request.query_params
        if params.get("client_id") != self.client_id or not params.get("redirect_uri"):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        email = params.get("login_hint") or self.default_email
        code = self.issue_code(email, params["redirect_uri"])
        query = urlencode({"code": code, "state": params.get("state", "")})
        return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=302)

    async def token(self, request: Request) -> Response:
        # Parsed by hand: Starlette's form parser needs python-multipart.
        form = dict(parse_qsl((await request.body()).decode()))
        self.token_requests.append(form)
        if form.get("client_id") != self.client_id or (
            form.get("client_secret") != self.client_secret
        ):
            return _oauth_error("invalid_client", "The OAuth client was not found.", 401)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            with self.lock:
                entry = self.codes.pop(form.get("code", ""), None)
            if entry is None:
                return _oauth_error("invalid_grant", "Malformed auth code.")
            email, redirect_uri = entry
            if redirect_uri and redirect_uri != form.get("redirect_uri"):
                return _oauth_error("redirect_uri_mismatch", "Bad Request")
            return JSONResponse(self._grant(email, refresh=None))
        if grant_type == "refresh_token":
            token = form.get("refresh_token", "")
            with self.lock:
                email = self.refresh.get(token)
                dead = token in self.revoked
            if email is None or dead:
                return _oauth_error("invalid_grant", "Token has been expired or revoked.")
            body = self._grant(email, refresh=token)
            return JSONResponse(body)
        return _oauth_error("unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _grant(
        self, email: str, *, refresh: str | None, expires_in: int | None = None
    ) -> dict[str, Any]:
        lifetime = self.token_lifetime if expires_in is None else expires_in
        access = "at-" + secrets.token_urlsafe(16)
        body: dict[str, Any] = {
            "access_token": access,
            "expires_in": lifetime,
            "token_type": "Bearer",
            "scope": self.scope,
        }
        with self.lock:
            self.access[access] = Grant(email, time.time() + lifetime)
            if refresh is None or self.rotate_refresh_tokens:
                new_refresh = "rt-" + secrets.token_urlsafe(16)
                self.refresh[new_refresh] = email
                body["refresh_token"] = new_refresh
        return body


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


class ServerThread:
    """Serves an ASGI app on 127.0.0.1 at a free port, in a daemon thread."""

    def __init__(self, app: ASGIApp, port: int = 0) -> None:
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.port = int(self.sock.getsockname()[1])
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http="h11",
            ws="none",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the fake server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@contextlib.contextmanager
def serving(app: ASGIApp, port: int = 0) -> Iterator[ServerThread]:
    server = ServerThread(app, port)
    server.start()
    try:
        yield server
    finally:
        server.stop()


Handler = Callable[[Request], Awaitable[Response]]
