"""The Starlette application: GraphQL route, health check, lifespan."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse

from app.access import load_viewer
from app.calendars.oauth_routes import oauth_callback, oauth_start
from app.config import Settings
from app.db import create_engine, create_session_factory, is_postgres
from app.limits import BodyLimits
from app.links.access import (
    LINK_HEADER,
    LinkAccess,
    LinkProblem,
    LinkRefusal,
    authenticate_link,
)
from app.live.feed import Feed, create_feed
from app.logredact import redact_access_log
from app.models import utcnow
from app.ops.logs import RequestIdMiddleware
from app.ops.metrics import HttpMetricsMiddleware
from app.ops.routes import ops_routes
from app.ops.tracing import instrument_app
from app.people.tokens import authenticate, needs_touch, touch
from app.ratelimit import RateLimiter, Refusal, Rule
from app.schema import build_schema
from app.schema.context import Context, request_session
from app.schema.reporting import (
    DATABASE_UNAVAILABLE_MESSAGE,
    SERVICE_UNAVAILABLE,
    is_database_outage,
)
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
        feed: Feed | None = None,
    ) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=False,  # no state changes or heavy reads through links
            # Only the maintained protocol (the legacy graphql-ws had an auth bypass).
            subscription_protocols=("graphql-transport-ws",),
            keep_alive=True,  # pings keep idle subscriptions open through proxies
            keep_alive_interval=25,
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=20,
            allowed_origins=settings.cors_origin_list,
        )
        self.settings = settings
        self.session_factory = session_factory
        self.on_outbox_written = on_outbox_written
        self.clock = clock
        self.rate_limiter = rate_limiter
        self.feed = feed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _presents_credentials(Request(scope)):
            # An address past its failed sign-ins is turned away before its token or link is
            # looked up or its body read: guessing costs the server nothing more.
            refusal = await self.rate_limiter.check(Rule.FAILED_AUTH, _client_address(scope))
            if refusal is not None:
                await rate_limited_response(refusal)(scope, receive, send)
                return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            async with self.session_factory() as session:
                token = request_session.set(session)
                try:
                    await super().__call__(scope, receive, tracking_send)
                finally:
                    request_session.reset(token)
        except Exception as exc:
            # Authentication reads the database before any GraphQL execution: an outage
            # there is still answered as GraphQL, with 503 so clients and proxies retry.
            if scope["type"] != "http" or started or not is_database_outage(exc):
                raise
            logger.warning("database unavailable: %s: %s", type(exc).__name__, exc)
            await database_unavailable()(scope, receive, send)

    async def on_ws_connect(self, context: Context) -> None:
        """Subscriptions authenticate in connection_init's payload: `{"Authorization":
        "Bearer <token>"}` (or `{"token": "<token>"}`); anything else closes with 4403."""
        address = _client_address(context.request.scope)
        if await self.rate_limiter.check(Rule.FAILED_AUTH, address) is not None:
            raise ConnectionRejectionError()
        token = _payload_token(context.connection_params or {})
        auth = None
        if token:
            async with context.db() as session:
                auth = await authenticate(session=session, token=token, now=self.clock())
                if auth is not None:
                    context.viewer = await load_viewer(session, auth.user)
                    context.token_id = auth.token_id
                    context.bearer_token = token
        await context.release()
        if auth is None:
            await self.rate_limiter.hit(Rule.FAILED_AUTH, address)
            raise ConnectionRejectionError()

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_page()

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        results = response_data if isinstance(response_data, list) else [response_data]
        codes = {
            (error.get("extensions") or {}).get("code")
            for result in results
            for error in cast(list[dict[str, Any]], result.get("errors") or [])
        }
        if SERVICE_UNAVAILABLE in codes:
            response.status_code = 503
            response.headers["Retry-After"] = "5"
        return response

    async def get_context(self, request: Any, response: Any) -> Context:
        session = request_session.get()
        viewer = None
        token_id = None
        # Over a WebSocket only connection_init's payload counts (see on_ws_connect).
        token = _bearer_token(request) if request.scope["type"] == "http" else ""
        if token:
            now = self.clock()
            auth = await authenticate(session=session, token=token, now=now)
            if auth is not None:
                viewer = await load_viewer(session, auth.user)
                token_id = auth.token_id
            touching = auth is not None and needs_touch(auth, now)
            if touching or not _one_transaction(request, session):
                # Authentication reads only; end that transaction so SQLite's lock is
                # released (and so the touch gets its own). On PostgreSQL the request's
                # work goes on in the same transaction: one BEGIN, one end.
                await session.commit()
            if auth is None:
                # This request is answered UNAUTHENTICATED as usual; once the address is past
                # its limit, its next requests are refused in __call__.
                await self.rate_limiter.hit(Rule.FAILED_AUTH, _client_address(request.scope))
            elif touching:
                await touch(session=session, token_id=auth.token_id, now=now)
        link: LinkAccess | None = None
        refusal: LinkRefusal | None = None
        link_token = (
            request.headers.get(LINK_HEADER, "") if not isinstance(request, WebSocket) else ""
        )
        if viewer is None and link_token:
            found = await authenticate_link(
                session=session, settings=self.settings, token=link_token, now=self.clock()
            )
            link, refusal = (found, None) if isinstance(found, LinkAccess) else (None, found)
            if not _one_transaction(request, session):
                await session.commit()
            if refusal is not None and refusal.problem is LinkProblem.INVALID:
                # A forged or mangled link is a failed sign-in; an expired or revoked one is
                # an old mail, answered with what happened.
                await self.rate_limiter.hit(Rule.FAILED_AUTH, _client_address(request.scope))
        return Context(
            request=request,
            session=session,
            settings=self.settings,
            viewer=viewer,
            on_outbox_written=self.on_outbox_written,
            clock=self.clock,
            rate_limiter=self.rate_limiter,
            token_id=token_id,
            response=response,
            link=link,
            link_refusal=refusal,
            feed=self.feed,
        )


def _one_transaction(request: Request, session: AsyncSession) -> bool:
    """Whether authentication's reads may stay in the transaction of the request's work:
    on PostgreSQL over HTTP. SQLite must release its lock; a websocket lives for long,
    and a transaction must not stay open (idle) that long."""
    return request.scope.get("type") == "http" and is_postgres(session)


def _bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _payload_token(payload: dict[str, Any]) -> str:
    for key in ("Authorization", "authorization"):
        value = payload.get(key)
        if isinstance(value, str):
            scheme, _, token = value.partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    value = payload.get("token")
    return value.strip() if isinstance(value, str) else ""


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


GRAPHIQL_ASSETS = Path(__file__).parent / "static" / "graphiql"
GRAPHIQL_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Roundtable GraphiQL</title>
  <style>body { margin: 0; height: 100vh; } #graphiql { height: 100vh; }</style>
  <link rel="stylesheet" href="/graphiql/graphiql.min.css">
</head>
<body>
  <div id="graphiql">Loading GraphiQL...</div>
  <script src="/graphiql/react.production.min.js"></script>
  <script src="/graphiql/react-dom.production.min.js"></script>
  <script src="/graphiql/graphiql.min.js"></script>
  <script src="/graphiql/graphiql-init.js"></script>
</body>
</html>
"""
# Everything from Roundtable itself; inline styles only (CodeMirror positions by style).
GRAPHIQL_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)


def graphiql_page() -> Response:
    return HTMLResponse(GRAPHIQL_PAGE, headers={"Content-Security-Policy": GRAPHIQL_CSP})


def database_unavailable() -> Response:
    body = {
        "data": None,
        "errors": [
            {
                "message": DATABASE_UNAVAILABLE_MESSAGE,
                "extensions": {"code": SERVICE_UNAVAILABLE},
            }
        ],
    }
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    on_outbox_written: Callable[[], None] | None = None,
    clock: Callable[[], datetime] = utcnow,
    lifespan_hooks: list[Callable[[], contextlib.AbstractAsyncContextManager[None]]] | None = None,
    rate_limiter: RateLimiter | None = None,
    feed: Feed | None = None,
) -> Starlette:
    own_engine = engine is None
    engine = engine or create_engine(settings)
    session_factory = create_session_factory(engine)
    limiter = rate_limiter or RateLimiter(settings)
    live = feed or create_feed(settings)
    graphql = RoundtableGraphQL(
        settings=settings,
        session_factory=session_factory,
        on_outbox_written=on_outbox_written,
        clock=clock,
        rate_limiter=limiter,
        feed=live,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        redact_access_log()  # after the server configured its logging
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(limiter.aclose)
            await live.start()
            stack.push_async_callback(live.stop)
            for hook in lifespan_hooks or []:
                await stack.enter_async_context(hook())
            yield
        if own_engine:
            await engine.dispose()

    assets = (
        [Mount("/graphiql", StaticFiles(directory=GRAPHIQL_ASSETS), name="graphiql")]
        if settings.graphiql
        else []
    )
    app = Starlette(
        routes=[
            *assets,
            Route("/graphql", graphql, methods=["GET", "POST"]),
            # A Route matches HTTP only: without this the upgrade found no route (403).
            WebSocketRoute("/graphql", graphql),
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
            # CORS outside the body limits, so a browser can read a 413 or 408 too.
            *http_middleware(settings),
            # Before any route reads the body: oversized or slow bodies are answered here.
            Middleware(
                BodyLimits,
                max_bytes=settings.max_request_bytes,
                timeout_seconds=settings.request_body_timeout_seconds,
            ),
        ],
        lifespan=lifespan,
    )
    instrument_app(app)  # outermost, when traces are on (app/ops/tracing.py)
    return app


def http_middleware(settings: Settings) -> list[Middleware]:
    """CORS for the browser apps named in ROUNDTABLE_CORS_ORIGINS; gzip for large answers."""
    middleware = []
    if settings.cors_origin_list:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origin_list,
                allow_methods=["GET", "POST"],
                # Bearer tokens, not cookies: no credentials mode is needed.
                allow_headers=["Authorization", "Content-Type", "X-Request-ID", LINK_HEADER],
                expose_headers=["X-Request-ID", "Retry-After"],
                max_age=600,
            )
        )
    middleware.append(
        Middleware(
            GZipMiddleware,
            minimum_size=1024,
            # Streamed answers (subscriptions over multipart, SSE) must reach clients at once.
            exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, "multipart/mixed"),
        )
    )
    return middleware
