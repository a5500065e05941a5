"""The schema extension that sizes and validates every document before it runs."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSyntaxError, validate
from graphql.validation import NoSchemaIntrospectionCustomRule
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types.graphql import OperationType

from app.config import Settings
from app.schema.query_limits import QueryLimits, check_document


class NoIntrospection(NoSchemaIntrospectionCustomRule):
    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {"code": "INTROSPECTION_DISABLED"}
        super().report_error(error)


class ValidDocuments:
    """Documents that parsed and passed every limit and rule, by their text (LRU, bounded).

    Clients send the same few queries again and again; parsing and validating them took a
    fifth of a list request's time. Only documents without errors are kept: a refused one
    is checked afresh each time, so junk cannot crowd the cache. Validation depends on the
    text, the request's rules (a mail link adds one: both are the key), the schema and the
    settings alone (the limits price literal arguments, never variables), so a hit answers
    exactly as a fresh check would. graphql-core never changes a parsed document, so one
    tree serves concurrent requests.
    """

    def __init__(self, maxsize: int = 256, max_length: int = 20_000) -> None:
        self.maxsize, self.max_length = maxsize, max_length
        self._documents: OrderedDict[tuple[object, str], DocumentNode] = OrderedDict()
        self._lock = threading.Lock()  # schemas may run in several threads (sync tests)

    def get(self, rules: object, query: str | None) -> DocumentNode | None:
        """The document `query` if it passed `rules` (the request's validation rules: a
        mail link's request adds its own, app.schema.links)."""
        if not query:
            return None
        with self._lock:
            document = self._documents.get((rules, query))
            if document is not None:
                self._documents.move_to_end((rules, query))
            return document

    def add(self, rules: object, query: str | None, document: DocumentNode) -> None:
        if not query or len(query) > self.max_length:
            return
        with self._lock:
            self._documents[(rules, query)] = document
            self._documents.move_to_end((rules, query))
            while len(self._documents) > self.maxsize:
                self._documents.popitem(last=False)


class DocumentLimits(SchemaExtension):
    """Token, depth, alias and cost limits; introspection and suggestions where enabled.

    Validation runs here rather than in Strawberry so that graphql-core can be told to
    leave out "Did you mean ...?" suggestions, which map the schema for anyone when
    introspection is off, and so that the limits are checked before graphql-core's rules
    walk the document. Strawberry skips its own validation when an extension has run it.
    """

    def __init__(self, settings: Settings, valid: ValidDocuments | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.valid = valid
        self.cached = False
        self.limits = QueryLimits(
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_query_aliases,
            max_cost=settings.max_query_cost,
        )

    def on_operation(self) -> Iterator[None]:
        # graphql-core's lexer stops counting at this many tokens: a huge document is
        # refused before it is parsed into a tree.
        self.execution_context.parse_options["max_tokens"] = self.settings.max_query_tokens
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if self.valid is not None and context.graphql_document is None:
            document = self.valid.get(tuple(context.validation_rules), context.query)
            if document is not None:
                # Strawberry parses only when no document is set; validation is skipped below.
                context.graphql_document, self.cached = document, True
        yield
        for error in self.execution_context.pre_execution_errors or ():
            if not isinstance(error, GraphQLSyntaxError):
                continue
            if "tokens" in error.message:
                error.message = f"The query is longer than {self.settings.max_query_tokens} tokens."
                error.extensions = {"code": "QUERY_TOO_LARGE"}
            elif "nested too deeply" in error.message:
                error.message = "The query is nested too deeply to be read."
                error.extensions = {"code": "QUERY_TOO_DEEP"}

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if self.cached:
            context.pre_execution_errors = []
        elif document is not None and context.pre_execution_errors is None:
            schema = context.schema._schema
            # The limits first, on their own: a refused document (a fragment bomb) is not
            # walked by graphql-core's rules at all; the measure is taken once either way.
            errors, _ = check_document(schema, document, self.limits)
            if not errors:
                rules = [
                    *context.validation_rules,
                    MaybeNullValidationRule,
                    OneOfInputValidationRule,
                ]
                if not self.settings.introspection:
                    rules.append(NoIntrospection)
                errors = validate(
                    schema, document, rules, hide_suggestions=not self.settings.introspection
                )
            if not errors and _subscription_over_http(context):
                errors = [
                    GraphQLError(
                        "Subscriptions are served over WebSocket only (graphql-transport-ws "
                        "on /graphql).",
                        extensions={"code": "BAD_REQUEST"},
                    )
                ]
            for error in errors:
                # graphql-core's own budgets (overlapping fields, fragment work) ran out.
                if isinstance(error, ValidationAbortedError) and not error.extensions:
                    error.message = "The query is too complex to validate."
                    error.extensions = {"code": "QUERY_TOO_COMPLEX"}
            context.pre_execution_errors = errors
            if not errors and self.valid is not None:
                self.valid.add(tuple(context.validation_rules), context.query, document)
        yield


def _subscription_over_http(context: Any) -> bool:
    request = getattr(context.context, "request", None)
    if request is None or request.scope.get("type") != "http":
        return False
    try:
        return context.operation_type is OperationType.SUBSCRIPTION
    except Exception:  # no single operation to speak of: graphql-core reports that
        return False
