"""Spans of GraphQL operations (imported only when traces are on: app/ops/tracing.py)."""

from __future__ import annotations

from collections.abc import Generator

from opentelemetry.trace import SpanKind
from strawberry.extensions import LifecycleStep, SchemaExtension
from strawberry.extensions.tracing import OpenTelemetryExtension


class OperationSpans(OpenTelemetryExtension):
    """Strawberry's OpenTelemetry extension with one span per operation (current, so SQL
    and provider spans nest under it), its parsing and validation, and none per field.

    The document is not recorded: literals in it may be tokens or message text.
    """

    resolve = SchemaExtension.resolve  # type: ignore[assignment]  # no per-field spans

    def on_operation(self) -> Generator[None, None, None]:
        name = self.execution_context.operation_name
        with self._tracer.start_as_current_span(
            f"GraphQL {name or 'operation'}", kind=SpanKind.INTERNAL
        ) as span:
            self._span_holder[LifecycleStep.OPERATION] = span
            yield
            resolved = self.execution_context.operation_name
            if resolved:
                span.update_name(f"GraphQL {resolved}")
                span.set_attribute("graphql.operation.name", resolved)
            try:
                span.set_attribute(
                    "graphql.operation.type", self.execution_context.operation_type.value
                )
            except Exception:  # the document did not parse
                pass
