"""graphql-core's executor with a short path for plain values.

A page of interviews has about 750 fields, and most of them are plain attributes: an id,
a status, a start, a participant's email. graphql-core executes each through the general
path (a `Path`, a resolve info, Strawberry's resolver wrapper, an awaitable check and the
dispatch of `complete_value`), which was most of a list request's time. Here a field that
Strawberry itself resolves as a plain attribute (no resolver, no arguments, the default
`getattr`) is read and completed directly: a scalar or enum is coerced, an object of a type
without `is_type_of` has its sub-selection executed. Anything unusual about the value (None
where the type forbids it, an exception, an awaitable, a value the scalar refuses) goes
back to graphql-core's own path for that field, so errors, their paths and null
propagation are graphql-core's.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    is_leaf_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


@dataclass(frozen=True, slots=True)
class PlainField:
    """How to complete a field that is a plain attribute of its parent."""

    attribute: str
    return_type: GraphQLOutputType
    nullable: bool
    leaf: GraphQLLeafType | None  # a scalar or enum: coerced directly
    object_type: GraphQLObjectType | None  # an object: its sub-selection executed


_UNKNOWN = object()
_SLOW = object()  # the short path declined: graphql-core's path completes the field


def plain_field(field_def: GraphQLField | None) -> PlainField | None:
    """The short path for this field, or None when graphql-core's path must run it."""
    if field_def is None or field_def.args:
        return None
    # Strawberry marks the resolver of a field without a resolver of its own ("basic").
    if not getattr(field_def.resolve, "_is_default", False):
        return None
    definition = field_def.extensions.get("strawberry-definition")
    if definition is None or definition.base_resolver is not None:
        return None
    if definition.default_resolver is not getattr:
        return None
    return_type = field_def.type
    nullable = not isinstance(return_type, GraphQLNonNull)
    named = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    if is_leaf_type(named):
        return PlainField(definition.python_name, field_def.type, nullable, named, None)
    if is_object_type(named) and named.is_type_of is None:
        return PlainField(definition.python_name, field_def.type, nullable, None, named)
    return None  # lists, abstract types and types that check their values


_PLANS: weakref.WeakKeyDictionary[GraphQLSchema, dict[tuple[str, str], Any]] = (
    weakref.WeakKeyDictionary()
)


def _plans(schema: GraphQLSchema) -> dict[tuple[str, str], Any]:
    """The plans of a schema, keyed by (type name, field name); filled as fields are met."""
    plans = _PLANS.get(schema)
    if plans is None:
        plans = _PLANS[schema] = {}
    return plans


class PlainValuesExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with plain attributes completed directly."""

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        manager = self.middleware_manager
        if manager is not None and manager.middlewares:  # they wrap every resolver call
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        plans = _plans(self.schema)
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list in grouped_field_set.items():
                key = (parent_type.name, field_details_list[0].node.name.value)
                plan = plans.get(key, _UNKNOWN)
                if plan is _UNKNOWN:
                    plan = plans[key] = plain_field(self.schema.get_field(parent_type, key[1]))
                result: Any = _SLOW
                if plan is not None:
                    if plan.leaf is not None:
                        result = _leaf(plan, source_value)
                        if result is not _SLOW:
                            results[response_name] = result
                            continue
                    else:
                        result = self._plain_object(
                            plan,
                            parent_type,
                            source_value,
                            field_details_list,
                            path,
                            response_name,
                            position_context,
                        )
                if result is _SLOW:
                    result = self.execute_field(
                        parent_type,
                        source_value,
                        field_details_list,
                        Path(path, response_name, parent_type.name),
                        position_context,
                    )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:  # settle what other fields started, as graphql-core does
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise

        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited = await gather_with_cancel(*(results[f] for f in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def _plain_object(
        self,
        plan: PlainField,
        parent_type: GraphQLObjectType,
        source_value: Any,
        field_details_list: FieldDetailsList,
        path: Path | None,
        response_name: str,
        position_context: Any,
    ) -> Any:
        try:
            value = getattr(source_value, plan.attribute)
        except Exception:
            return _SLOW
        if value is None:
            return None if plan.nullable else _SLOW
        if isinstance(value, Exception) or self.is_awaitable(value):
            return _SLOW
        field_path = Path(path, response_name, parent_type.name)
        assert plan.object_type is not None
        try:
            completed = self.collect_and_execute_subfields(
                plan.object_type, field_details_list, field_path, value, position_context
            )
        except Exception as raw_error:  # as graphql-core's execute_field handles it
            self.handle_field_error(raw_error, plan.return_type, field_details_list, field_path)
            return None
        if self.is_awaitable(completed):
            return self._await_completed(completed, plan, field_details_list, field_path)
        return completed

    async def _await_completed(
        self,
        completed: Awaitable[Any],
        plan: PlainField,
        field_details_list: FieldDetailsList,
        field_path: Path,
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, plan.return_type, field_details_list, field_path)
            return None


def _leaf(plan: PlainField, source_value: Any) -> Any:
    try:
        value = getattr(source_value, plan.attribute)
        if value is None:
            return None if plan.nullable else _SLOW
        if isinstance(value, Exception):
            return _SLOW
        assert plan.leaf is not None
        coerced = plan.leaf.coerce_output_value(value)
    except Exception:
        return _SLOW
    if coerced is None or coerced is Undefined:
        return _SLOW
    return coerced
