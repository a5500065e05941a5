"""What a client sees of an error, and what the log keeps of it.

Three kinds of error reach a GraphQL response:
- the client's mistakes (syntax, validation, variables of the wrong type, a missing token,
  a user's mistake in a query): shown as they are, each with an `extensions.code`, and
  logged at INFO on one line;
- the database being unreachable: `SERVICE_UNAVAILABLE` (and HTTP 503, see app.main);
- anything else: masked as "Unexpected error." and logged at ERROR with its traceback and
  the operation, path and viewer it happened to.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import strawberry
from graphql import GraphQLError
from sqlalchemy import exc as sa_exc
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionContext

from app.schema.errors import UserInputError

logger = logging.getLogger("app.graphql")

SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
# graphql-core's wording: "Variable '$input' has invalid value at .windows[2].start: ..."
VARIABLE_AT = re.compile(
    r"Variable '\$(?P<variable>\w+)' has invalid value(?: at (?P<at>[^:\s]+))?"
)
UNEXPECTED = "INTERNAL_SERVER_ERROR"
DATABASE_UNAVAILABLE_MESSAGE = "The database is unavailable; try again in a moment."


DATABASE_MODULES = ("sqlalchemy", "asyncpg", "aiosqlite")


def is_database_outage(error: BaseException | None) -> bool:
    """The database could not be reached or answered: worth retrying, not a bug."""
    while error is not None:
        if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
            return True
        if isinstance(error, sa_exc.TimeoutError):
            return True  # the connection pool is exhausted
        if isinstance(error, OSError | TimeoutError) and _raised_by_database_driver(error):
            return True  # asyncpg raises ConnectionRefusedError as it is, unwrapped
        error = error.__cause__ or error.__context__
    return False


def _raised_by_database_driver(error: BaseException) -> bool:
    """Network errors count only when they come from the database (not a calendar, SMTP)."""
    tb = error.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(DATABASE_MODULES):
            return True
        tb = tb.tb_next
    return False


def client_error_code(error: GraphQLError) -> str | None:
    """The code of a client's mistake, or None when the error is not the client's."""
    original = error.original_error
    code = (error.extensions or {}).get("code")
    if original is None:
        if code:
            return str(code)
        if error.path is not None:
            return None  # raised bare from a resolver: treat as unexpected
        if error.message.startswith("Syntax Error"):
            return "GRAPHQL_PARSE_FAILED"
        if error.message.startswith("Variable '$"):
            return "BAD_USER_INPUT"
        return "GRAPHQL_VALIDATION_FAILED"
    if isinstance(original, UserInputError):
        return str((original.extensions or {}).get("code") or "BAD_USER_INPUT")
    extensions = getattr(original, "extensions", None) or {}
    if extensions.get("code") == "UNAUTHENTICATED":
        return "UNAUTHENTICATED"
    if error.path is None and error.message.startswith("Variable '$"):
        # A variable that cannot be coerced (a bad DateTime, an unknown enum value): the
        # scalar's parser raised, which graphql-core keeps as the original error.
        return "BAD_USER_INPUT"
    return None


class ClientErrors(MaskErrors):
    """Masks unexpected exceptions; gives every error the client sees a code."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda error: client_error_code(error) is None)

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [_shown(error) for error in errors]


def _shown(error: GraphQLError) -> GraphQLError:
    code = client_error_code(error)
    if code is not None:
        extensions = {**(error.extensions or {}), "code": code}
        if code == "BAD_USER_INPUT" and "field" not in extensions:
            where = VARIABLE_AT.match(error.message)
            if where is not None:  # the variable, and the place inside it: "input.windows.2"
                inside = re.sub(r"\[(\d+)\]", r".\1", where.group("at") or "")
                extensions["field"] = where.group("variable") + inside
        return _with(error, error.message, extensions)
    if is_database_outage(error.original_error):
        return _with(error, DATABASE_UNAVAILABLE_MESSAGE, {"code": SERVICE_UNAVAILABLE})
    return _with(error, "Unexpected error.", {"code": UNEXPECTED})


def _with(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message=message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


class RoundtableSchema(strawberry.Schema):
    """Logs each error by kind (see the module docstring) instead of all at ERROR."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            log_error(error, execution_context)


def log_error(error: GraphQLError, execution_context: ExecutionContext | None) -> None:
    where = _where(error, execution_context)
    code = client_error_code(error)
    if code is not None:
        logger.info("client error %s%s: %s", code, where, error.message)
    elif is_database_outage(error.original_error):
        logger.warning(
            "database unavailable%s: %s: %s",
            where,
            type(error.original_error).__name__,
            error.original_error,
        )
    else:
        logger.error("unexpected error%s: %s", where, error.message, exc_info=error.original_error)


def _where(error: GraphQLError, execution_context: ExecutionContext | None) -> str:
    parts = []
    if execution_context is not None:
        if execution_context.operation_name:
            parts.append(f"operation={execution_context.operation_name}")
        viewer = getattr(execution_context.context, "viewer", None)
        if viewer is not None:
            parts.append(f"viewer={viewer.id}")
    if error.path:
        parts.append("path=" + ".".join(str(p) for p in error.path))
    return (" [" + " ".join(parts) + "]") if parts else ""
