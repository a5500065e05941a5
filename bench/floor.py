"""The floor: what `myInterviews(first: 20)` costs on this stack without the GraphQL layer.

The same Python, uvicorn and Starlette, a plain asyncpg pool, Roundtable's own tables, and
the same JSON answer byte for byte (bench/run.py checks before timing) for the query
`LIST_QUERY`. It authenticates the bearer token like Roundtable (SHA-256 lookup), then
reads the page, its windows and its participants with their users: four statements,
no transaction. It answers that one query for the token's hiring member and nothing else.

    ROUNDTABLE_DATABASE_URL=postgresql://... uvicorn bench.floor:app --port 8100
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

LIST_QUERY = """{ myInterviews(group: PENDING, first: 20) { edges { cursor node {
  id round status requestedAt timeZone durationMinutes
  windows { start end }
  participants { kind email syncState user { id name } }
  bookedStart bookedEnd conference { url provider } cancellation { at reason }
  alternativeTimesRequested proposal { id }
} } pageInfo { hasNextPage endCursor } } }"""

PAGE = 20

AUTH = """
SELECT u.id, u.organization_id FROM users u JOIN api_tokens t ON t.user_id = u.id
WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now()
"""
# A hiring member's pending interviews: of their organization, requested by them or with
# them among the participants; newest request first.
LIST = """
SELECT i.id, i.round, i.status, i.requested_at, i.time_zone, i.duration_minutes,
       i.booked_start, i.booked_end, i.conference_url, i.conference_provider,
       i.cancelled_at, i.cancel_reason, i.alternative_times_requested, i.proposal_id
FROM interviews i
JOIN proposals p ON p.id = i.proposal_id
JOIN projects j ON j.id = p.project_id
WHERE i.status = 'PENDING' AND j.organization_id = $1
  AND (i.requested_by_id = $2 OR EXISTS (
       SELECT 1 FROM participants x WHERE x.interview_id = i.id AND x.user_id = $2))
ORDER BY i.requested_at DESC, i.id DESC
LIMIT $3
"""
WINDOWS = """
SELECT interview_id, starts_at, ends_at FROM availability_windows
WHERE interview_id = ANY($1) ORDER BY starts_at
"""
PARTICIPANTS = """
SELECT x.interview_id, x.kind, x.email, x.sync_state, x.user_id, u.name
FROM participants x LEFT JOIN users u ON u.id = x.user_id
WHERE x.interview_id = ANY($1) ORDER BY x.email
"""


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _cursor(at: datetime, row_id: Any) -> str:
    raw = json.dumps([at.isoformat(), str(row_id)])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _unauthenticated() -> Response:
    body = {"data": None, "errors": [{"message": "not authenticated"}]}
    return Response(json.dumps(body), media_type="application/json")


async def graphql(request: Request) -> Response:
    pool: asyncpg.Pool = request.app.state.pool
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    await request.body()
    token_hash = hashlib.sha256(token.strip().encode()).hexdigest()
    async with pool.acquire() as conn:
        viewer = await conn.fetchrow(AUTH, token_hash)
        if viewer is None or scheme.lower() != "bearer":
            return _unauthenticated()
        rows = await conn.fetch(LIST, viewer["organization_id"], viewer["id"], PAGE + 1)
        page = rows[:PAGE]
        ids = [r["id"] for r in page]
        windows = await conn.fetch(WINDOWS, ids)
        participants = await conn.fetch(PARTICIPANTS, ids)
    windows_of: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for w in windows:
        windows_of[w["interview_id"]].append(
            {"start": w["starts_at"].isoformat(), "end": w["ends_at"].isoformat()}
        )
    people_of: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for p in participants:
        user = None if p["user_id"] is None else {"id": str(p["user_id"]), "name": p["name"]}
        people_of[p["interview_id"]].append(
            {"kind": p["kind"], "email": p["email"], "syncState": p["sync_state"], "user": user}
        )
    edges = []
    for r in page:
        conference = None
        if r["conference_url"] is not None:
            conference = {"url": r["conference_url"], "provider": r["conference_provider"] or ""}
        cancellation = None
        if r["cancelled_at"] is not None:
            cancellation = {"at": r["cancelled_at"].isoformat(), "reason": r["cancel_reason"]}
        edges.append(
            {
                "cursor": _cursor(r["requested_at"], r["id"]),
                "node": {
                    "id": str(r["id"]),
                    "round": r["round"],
                    "status": r["status"],
                    "requestedAt": r["requested_at"].isoformat(),
                    "timeZone": r["time_zone"],
                    "durationMinutes": r["duration_minutes"],
                    "windows": windows_of.get(r["id"], []),
                    "participants": people_of.get(r["id"], []),
                    "bookedStart": _iso(r["booked_start"]),
                    "bookedEnd": _iso(r["booked_end"]),
                    "conference": conference,
                    "cancellation": cancellation,
                    "alternativeTimesRequested": r["alternative_times_requested"],
                    "proposal": {"id": str(r["proposal_id"])},
                },
            }
        )
    body = {
        "data": {
            "myInterviews": {
                "edges": edges,
                "pageInfo": {
                    "hasNextPage": len(rows) > PAGE,
                    "endCursor": edges[-1]["cursor"] if edges else None,
                },
            }
        }
    }
    # Strawberry's encoding (strawberry.http.base.BaseView.encode_json).
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")


def _dsn() -> str:
    url = os.environ["ROUNDTABLE_DATABASE_URL"]
    return url.replace("postgresql+asyncpg://", "postgresql://")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(_dsn(), min_size=2, max_size=10)
    yield
    await app.state.pool.close()


app = Starlette(routes=[Route("/graphql", graphql, methods=["POST"])], lifespan=lifespan)
