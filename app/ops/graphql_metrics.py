"""A Strawberry extension that counts and times every GraphQL operation."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from app.ops.metrics import GRAPHQL_LATENCY, GRAPHQL_OPERATIONS

# Operation names come from clients: only plain names become labels, and only so many, so
# a client inventing names cannot grow the metrics without bound.
PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_NAMES = 200
_names: set[str] = set()


def operation_label(name: str | None) -> str:
    if not name:
        return "anonymous"
    if not PLAIN_NAME.fullmatch(name):
        return "other"
    if name not in _names:
        if len(_names) >= MAX_NAMES:
            return "other"
        _names.add(name)
    return name


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        name = operation_label(context.operation_name)
        try:
            kind = context.operation_type.value
        except Exception:  # the document did not parse: there is no operation type
            kind = "unknown"
        errors = context.result.errors if context.result is not None else None
        errors = errors or context.pre_execution_errors or []
        outcome = "ok"
        if errors:
            code = (errors[0].extensions or {}).get("code")
            outcome = str(code) if isinstance(code, str) and PLAIN_NAME.fullmatch(code) else "ERROR"
        GRAPHQL_OPERATIONS.labels(name, kind, outcome).inc()
        GRAPHQL_LATENCY.labels(name, kind).observe(time.perf_counter() - started)
