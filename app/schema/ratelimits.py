"""Mutations per token and OAuth starts per user, counted before a mutation executes.

A refused operation executes nothing and answers HTTP 429 with `Retry-After` and one
GraphQL error whose `extensions.code` is RATE_LIMITED (SPEC section 5).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    SelectionSetNode,
)
from graphql.utilities import get_operation_ast
from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from app.errors import ErrorCode
from app.ratelimit import Refusal, Rule
from app.schema.context import Context

OAUTH_START_FIELDS = frozenset({"connectCalendar"})


def root_fields(document: DocumentNode, operation_name: str | None) -> list[str]:
    """The root field names an operation selects, through fragments (each read once)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return []
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    names: list[str] = []
    seen: set[str] = set()

    def walk(selection_set: SelectionSetNode) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if not selection.name.value.startswith("__"):
                    names.append(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    seen.add(name)
                    walk(fragments[name].selection_set)

    walk(operation.selection_set)
    return names


def credential_key(context: Context) -> str | None:
    """What the mutation limit counts against: the API token, or the mail link's grant."""
    if context.viewer is not None and context.token_id is not None:
        return f"token:{context.token_id}"
    if context.link is not None:
        return f"link:{context.link.grant.id}"
    return None


def refused(context: Context, refusal: Refusal) -> ExecutionResult:
    if isinstance(context.response, Response):  # not over a WebSocket
        context.response.status_code = 429
        context.response.headers["Retry-After"] = str(refusal.retry_after)
    error = GraphQLError(
        refusal.message,
        extensions={"code": ErrorCode.RATE_LIMITED.value, "retryAfter": refusal.retry_after},
    )
    return ExecutionResult(data=None, errors=[error])


class MutationRateLimit(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        if (
            isinstance(context, Context)
            and execution.graphql_document is not None
            and execution.operation_type is OperationType.MUTATION
        ):
            refusal = await self._count(
                context, execution.graphql_document, execution.operation_name
            )
            if refusal is not None:
                execution.result = refused(context, refusal)
        yield

    @staticmethod
    async def _count(
        context: Context, document: DocumentNode, operation_name: str | None
    ) -> Refusal | None:
        limiter, key = context.rate_limiter, credential_key(context)
        fields = root_fields(document, operation_name)
        if limiter is None or key is None or not fields:
            return None  # no credential: the fields answer UNAUTHENTICATED
        # Each root field is one change: twenty aliased mutations cost twenty.
        refusal = await limiter.hit(Rule.MUTATIONS, key, cost=len(fields))
        starts = sum(1 for name in fields if name in OAUTH_START_FIELDS)
        if refusal is None and starts and context.viewer is not None:
            refusal = await limiter.hit(
                Rule.OAUTH_STARTS, str(context.require_viewer().id), cost=starts
            )
        return refusal
