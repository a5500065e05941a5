"""Caps on every argument of every root field, checked before its resolver runs.

One field extension on every query and mutation walks the arguments as Strawberry parsed
them: each list against its cap, each string against its length and for control
characters, each DateTime against the years Roundtable schedules in. A mutation answers
its payload with the errors as data (nothing is read or written); a query answers a
VALIDATION error. Fields added later are covered without a line of their own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.utils.str_converters import to_camel_case

from app.config import Settings
from app.errors import FieldError, validation
from app.schema.errors import UserInputError, user_errors
from app.text import NAME_CHARS, TEXT_CHARS, text_problem
from app.timezones import MAX_YEAR, MIN_YEAR

NAME_FIELDS = frozenset({"name", "title"})  # one line, NAME_CHARS (their column's width)
MULTILINE_FIELDS = frozenset({"reason", "message"})  # line breaks and tabs allowed
MAX_ERRORS = 10  # a list of 100 bad values needs no 100 messages


def list_cap(settings: Settings, name: str) -> int:
    if name == "participantIds":
        return settings.max_participants
    if name == "inviteEmails":
        return settings.max_invite_emails
    return settings.max_input_items  # windows, notification ids and any other list


@dataclasses.dataclass
class _Walk:
    settings: Settings
    errors: list[FieldError] = dataclasses.field(default_factory=list)

    def value(self, value: Any, *, path: str, name: str) -> None:
        if len(self.errors) >= MAX_ERRORS:
            return
        if isinstance(value, str):
            self.text(value, path=path, name=name)
        elif isinstance(value, list | tuple):
            cap = list_cap(self.settings, name)
            if len(value) > cap:
                self.errors.append(validation(f"at most {cap} items, not {len(value):,}", path))
                return  # its items are not looked at: the list is refused as a whole
            for index, item in enumerate(value):
                self.value(item, path=f"{path}.{index}", name=name)
        elif isinstance(value, datetime):
            if not MIN_YEAR <= value.year <= MAX_YEAR:
                self.errors.append(
                    validation(f"give a date between the years {MIN_YEAR} and {MAX_YEAR}", path)
                )
        elif dataclasses.is_dataclass(value) and hasattr(value, "__strawberry_definition__"):
            definition: StrawberryObjectDefinition = value.__strawberry_definition__
            for field in definition.fields:
                child = field.graphql_name or to_camel_case(field.python_name)
                self.value(
                    getattr(value, field.python_name),
                    path=f"{path}.{child}" if path else child,
                    name=child,
                )

    def text(self, value: str, *, path: str, name: str) -> None:
        problem = text_problem(
            value,
            field=path,
            max_chars=NAME_CHARS if name in NAME_FIELDS else TEXT_CHARS,
            multiline=name in MULTILINE_FIELDS,
        )
        if problem is not None:
            self.errors.append(problem)


def argument_problems(settings: Settings, arguments: dict[str, Any]) -> list[FieldError]:
    walk = _Walk(settings)
    for python_name, value in arguments.items():
        # `input` objects name their fields without a prefix: "windows.2.start".
        path = "" if python_name == "input" else to_camel_case(python_name)
        walk.value(value, path=path, name=path)
    return walk.errors


class InputLimits(FieldExtension):
    def _refusal(self, info: strawberry.Info, kwargs: dict[str, Any]) -> Any:
        errors = argument_problems(info.context.settings, kwargs)
        if not errors:
            return None
        payload: Any = info.return_type
        definition = getattr(payload, "__strawberry_definition__", None)
        if definition is not None and any(f.python_name == "errors" for f in definition.fields):
            return payload(errors=user_errors(errors))
        first = errors[0]
        raise UserInputError(
            "; ".join(f"{e.field}: {e.message}" for e in errors),
            extensions={"code": first.code.value, "field": first.field},
        )

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: strawberry.Info, **kwargs: Any
    ) -> Any:
        refusal = self._refusal(info, kwargs)
        return refusal if refusal is not None else next_(source, info, **kwargs)

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: strawberry.Info,
        **kwargs: Any,
    ) -> Any:
        refusal = self._refusal(info, kwargs)
        return refusal if refusal is not None else await next_(source, info, **kwargs)


def guard_root_fields(*root_types: type) -> None:
    """Add InputLimits to every field of the root types that takes arguments, once."""
    for root in root_types:
        definition: StrawberryObjectDefinition = root.__strawberry_definition__  # type: ignore[attr-defined]
        for field in definition.fields:
            if not field.arguments or any(isinstance(e, InputLimits) for e in field.extensions):
                continue
            # Innermost, so the permission check (an extension too) answers first.
            field.extensions.insert(0, InputLimits())
