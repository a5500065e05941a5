"""Mutation errors as data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import strawberry
from graphql import GraphQLError

from app.errors import ErrorCode as DomainErrorCode
from app.errors import FieldError, ServiceError

strawberry.enum(DomainErrorCode)
ErrorCode = DomainErrorCode


@strawberry.type
class UserError:
    code: ErrorCode
    message: str
    field: str | None = strawberry.field(
        default=None, description='The input field at fault, such as "windows.2.start".'
    )


def user_errors(errors: list[FieldError]) -> list[UserError]:
    return [UserError(code=e.code, message=e.message, field=e.field) for e in errors]


def forbidden(message: str = "only admins can do this") -> list[UserError]:
    return [UserError(code=DomainErrorCode.FORBIDDEN, message=message)]


class UserInputError(GraphQLError):
    """A user's mistake in a query (queries have no payload): shown, never masked."""


@contextmanager
def query_errors() -> Iterator[None]:
    try:
        yield
    except ServiceError as exc:
        first = exc.errors[0]
        raise UserInputError(
            "; ".join(e.message for e in exc.errors),
            extensions={"code": first.code.value, "field": first.field},
        ) from None
