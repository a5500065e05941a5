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
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from app.access import load_viewer
from app.calendars.oauth import oauth_callback
from app.config import Settings
from app.db import create_engine, create_session_factory
from app.limits import BodyLimits
from app.links.access import LINK_HEADER, LinkAccess, LinkRefusal, authenticate_link
from app.models import utcnow
from app.ops.logs import RequestIdMiddleware
from app.ops.metrics import HttpMetricsMiddleware
from app.ops.routes import ops_routes
from app.people.tokens import authenticate
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with self.session_factory() as session:
            token = request_session.set(session)
            try:
                await super().__call__(scope, receive, send)
            finally:
                request_session.reset(token)

    async def get_context(self, request: Any, response: Any) -> Context:
        session = request_session.get()
        viewer = None
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token:
            user = await authenticate(session=session, token=token.strip())
            if user is not None:
                viewer = await load_viewer(session, user)
            # Authentication reads only; end that transaction so SQLite's lock is released.
            await session.commit()
        link: LinkAccess | None = None
        refusal: LinkRefusal | None = None
        link_token = request.headers.get(LINK_HEADER, "")
        if viewer is None and link_token:
            found = await authenticate_link(
                session=session, settings=self.settings, token=link_token, now=self.clock()
            )
            link, refusal = (found, None) if isinstance(found, LinkAccess) else (None, found)
            await session.commit()
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
            link=link,
            link_refusal=refusal,
        )


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    on_outbox_written: Callable[[], None] | None = None,
    clock: Callable[[], datetime] = utcnow,
    lifespan_hooks: list[Callable[[], contextlib.AbstractAsyncContextManager[None]]] | None = None,
) -> Starlette:
    own_engine = engine is None
    engine = engine or create_engine(settings)
    graphql = RoundtableGraphQL(
        settings=settings,
        session_factory=create_session_factory(engine),
        on_outbox_written=on_outbox_written,
        clock=clock,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
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
                "/oauth/{provider}/callback",
                oauth_callback(
                    settings=settings,
                    session_factory=create_session_factory(engine),
                    clock=clock,
                ),
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
