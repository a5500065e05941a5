"""Starlette routes of the link pages and their static files."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from app.config import Settings
from app.links.outcome import Situation, resolve_link_page
from app.web.pages import (
    SECURITY_HEADERS,
    booking_shell,
    error_page,
    old_link_page,
    situation_page,
)

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"


def _html(content: str, status_code: int) -> HTMLResponse:
    return HTMLResponse(content, status_code=status_code, headers=SECURITY_HEADERS)


def link_page(
    *,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    clock: Callable[[], datetime],
) -> Callable[[Request], object]:
    async def endpoint(request: Request) -> Response:
        token = str(request.path_params["token"])
        try:
            async with session_factory() as session:
                page = await resolve_link_page(
                    session=session, settings=settings, token=token, now=clock()
                )
                await session.commit()
        except Exception:
            # A page for people who follow a mail: never a stack trace.
            logger.exception("link page failed")
            return _html(error_page(), 500)
        if page.situation is Situation.OPEN:
            return _html(booking_shell(token), 200)
        return _html(situation_page(page, valid_days=settings.link_valid_days), page.status_code)

    return endpoint


async def old_interview_link(_: Request) -> Response:
    """The /interviews/<id> links of mails sent before links were signed."""
    return _html(old_link_page(), 410)


def web_routes(
    *,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    clock: Callable[[], datetime],
) -> list[BaseRoute]:
    return [
        Route(
            "/links/{token}",
            link_page(settings=settings, session_factory=session_factory, clock=clock),
        ),
        Route("/interviews/{interview_id}", old_interview_link),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
