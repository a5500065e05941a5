"""SQL statements one request sends, counted inside an API process built by create_app.

Run by bench/run.py (also against an older tree through PYTHONPATH, for a before column):

    python bench/statements.py DATABASE_URL '{"lister_token": ..., ...}'

Prints JSON: for each request kind, the application's statements (SELECT, INSERT, UPDATE,
DELETE: what tests/test_query_count.py counts) and the transaction-control ones apart.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import httpx
from sqlalchemy import event

from app.config import Settings
from app.db import create_engine
from app.main import create_app

APP_VERBS = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


async def count(url: str, spec: dict[str, Any]) -> dict[str, dict[str, int]]:
    settings = Settings(database_url=url, secret_key="b" * 40, rate_limits=False)
    engine = create_engine(settings)
    app = create_app(settings, engine=engine)
    statements: list[str] = []
    control = 0

    def on_execute(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    def on_control(*_: Any) -> None:
        nonlocal control
        control += 1

    results: dict[str, dict[str, int]] = {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench"
    ) as http:
        for name, request in spec["requests"].items():
            body = {"query": request["query"], "variables": request.get("variables", {})}
            headers = {"Authorization": f"Bearer {request['token']}"}
            if request.get("warm_up", True):  # the token's last-used stamp, pools, caches
                await http.post("/graphql", json={"query": "{ me { id } }"}, headers=headers)
            statements.clear()
            control = 0
            event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
            for kind in ("begin", "commit", "rollback"):
                event.listen(engine.sync_engine, kind, on_control)
            response = await http.post("/graphql", json=body, headers=headers)
            event.remove(engine.sync_engine, "before_cursor_execute", on_execute)
            for kind in ("begin", "commit", "rollback"):
                event.remove(engine.sync_engine, kind, on_control)
            answer = response.json()
            if answer.get("errors"):
                raise SystemExit(f"{name}: {answer['errors']}")
            app_statements = [s for s in statements if s.lstrip().upper().startswith(APP_VERBS)]
            results[name] = {
                "statements": len(app_statements),
                "transaction_control": control + len(statements) - len(app_statements),
            }
    await engine.dispose()
    return results


if __name__ == "__main__":
    print(json.dumps(asyncio.run(count(sys.argv[1], json.loads(sys.argv[2])))))
