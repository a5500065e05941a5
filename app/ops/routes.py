"""The operators' endpoints of an API process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import Route

from app.config import Settings
from app.ops.metrics import metrics_endpoint
from app.ops.probes import livez, readiness_checks, ready_endpoint


def ops_routes(
    settings: Settings, engine: AsyncEngine, clock: Callable[[], datetime]
) -> list[Route]:
    ready = ready_endpoint(readiness_checks(settings, engine))
    return [
        Route("/livez", livez),
        Route("/ready", ready),
        Route("/health", ready),  # the older name, kept for existing probes
        Route("/metrics", metrics_endpoint(engine, clock)),
    ]
