"""The Starlette application: GraphQL route, health check, lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from app.access import load_viewer
from app.calendars.oauth_routes import oauth_callback, oauth_start
from app.config import Settings
from app.db import create_engine, create_session_factory
from app.limits import BodyLimits
from app.links.access import (
    LINK_HEADER,
    LinkAccess,
    LinkProblem,
    LinkRefusal,
    authenticate_link,
)
from app.logredact import redact_access_log
from app.models import utcnow
from app.ops.logs import RequestIdMiddleware
from app.ops.metrics import HttpMetricsMiddleware
from app.ops.routes import ops_routes
from app.people.tokens import authenticate, needs_touch, touch
from app.ratelimit import RateLimiter, Refusal, Rule
from app.schema import build_schema
from app.schema.context import Context, request_session
from app.schema.loaders import Loaders
from app.web.routes import web_routes

logger = logging.getLogger(__name__)


class RoundtableGraphQL(GraphQL[Context, None]):
    """One database session per HTTP request, opened before and closed after execution."""

    def __init__(
        self,
        *,
        settings: Settings,
        session_factory: async_sessionmaker[AsyncSession],
        on_outbox_written: Callable[[], None] | None,
        clock: Callable[[], datetime],
        rate_limiter: RateLimiter,
    ) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=False,  # no state changes or heavy reads through links
            subscription_protocols=("graphql-transport-ws",),
        )
        self.settings = settings
        self.session_factory = session_factory
        self.on_outbox_written = on_outbox_written
        self.clock = clock
        self.rate_limiter = rate_limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _presents_credentials(Request(scope)):
            # An address past its failed sign-ins is turned away before its token or link is
            # looked up or its body read: guessing costs the server nothing more.
            refusal = await self.rate_limiter.check(Rule.FAILED_AUTH, _client_address(scope))
            if refusal is not None:
                await rate_limited_response(refusal)(scope, receive, send)
                return
        async with self.session_factory() as session:
            token = request_session.set(session)
            try:
                await super().__call__(scope, receive, send)
            finally:
                request_session.reset(token)

    async def get_context(self, request: Any, response: Any) -> Context:
        session = request_session.get()
        viewer = None
        token_id = None
        token = _bearer_token(request)
        if token:
            now = self.clock()
            auth = await authenticate(session=session, token=token, now=now)
            if auth is not None:
                viewer = await load_viewer(session, auth.user)
                token_id = auth.token_id
            # Authentication reads only; end that transaction so SQLite's lock is released.
            await session.commit()
            if auth is None:
                # This request is answered UNAUTHENTICATED as usual; once the address is past
                # its limit, its next requests are refused in __call__.
                await self.rate_limiter.hit(Rule.FAILED_AUTH, _client_address(request.scope))
            elif needs_touch(auth, now):
                await touch(session=session, token_id=auth.token_id, now=now)
        link: LinkAccess | None = None
        refusal: LinkRefusal | None = None
        link_token = request.headers.get(LINK_HEADER, "")
        if viewer is None and link_token:
            found = await authenticate_link(
                session=session, settings=self.settings, token=link_token, now=self.clock()
            )
            link, refusal = (found, None) if isinstance(found, LinkAccess) else (None, found)
            await session.commit()
            if refusal is not None and refusal.problem is LinkProblem.INVALID:
                # A forged or mangled link is a failed sign-in; an expired or revoked one is
                # an old mail, answered with what happened.
                await self.rate_limiter.hit(Rule.FAILED_AUTH, _client_address(request.scope))
        lock = asyncio.Lock()  # one operation at a time on the request's session
        return Context(
            request=request,
            session=session,
            settings=self.settings,
            viewer=viewer,
            loaders=Loaders(session, lock),
            db_lock=lock,
            on_outbox_written=self.on_outbox_written,
            clock=self.clock,
            rate_limiter=self.rate_limiter,
            token_id=token_id,
            response=response,
            link=link,
            link_refusal=refusal,
        )


def _bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _presents_credentials(request: Request) -> bool:
    return bool(_bearer_token(request) or request.headers.get(LINK_HEADER))


def _client_address(scope: Scope) -> str:
    # uvicorn resolves X-Forwarded-For from trusted proxies (--forwarded-allow-ips) into this.
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def rate_limited_response(refusal: Refusal) -> Response:
    return JSONResponse(
        {
            "data": None,
            "errors": [
                {
                    "message": refusal.message,
                    "extensions": {"code": "RATE_LIMITED", "retryAfter": refusal.retry_after},
                }
            ],
        },
        status_code=429,
        headers={"Retry-After": str(refusal.retry_after)},
    )


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    on_outbox_written: Callable[[], None] | None = None,
    clock: Callable[[], datetime] = utcnow,
    lifespan_hooks: list[Callable[[], contextlib.AbstractAsyncContextManager[None]]] | None = None,
    rate_limiter: RateLimiter | None = None,
) -> Starlette:
    own_engine = engine is None
    engine = engine or create_engine(settings)
    session_factory = create_session_factory(engine)
    limiter = rate_limiter or RateLimiter(settings)
    graphql = RoundtableGraphQL(
        settings=settings,
        session_factory=session_factory,
        on_outbox_written=on_outbox_written,
        clock=clock,
        rate_limiter=limiter,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        redact_access_log()  # after the server configured its logging
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(limiter.aclose)
            for hook in lifespan_hooks or []:
                await stack.enter_async_context(hook())
            yield
        if own_engine:
            await engine.dispose()

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            *ops_routes(settings, engine, clock),
            *web_routes(
                settings=settings, session_factory=create_session_factory(engine), clock=clock
            ),
            Route(
                "/oauth/{provider}/start",
                oauth_start(settings=settings, session_factory=session_factory),
            ),
            Route(
                "/oauth/{provider}/callback",
                oauth_callback(settings=settings, session_factory=session_factory, clock=clock),
            ),
        ],
        middleware=[
            # Outermost: every log line of the request, and its answer, carry the id.
            Middleware(RequestIdMiddleware),
            Middleware(HttpMetricsMiddleware),
            # Before any route reads the body: oversized or slow bodies are answered here.
            Middleware(
                BodyLimits,
                max_bytes=settings.max_request_bytes,
                timeout_seconds=settings.request_body_timeout_seconds,
            ),
        ],
        lifespan=lifespan,
    )
