"""graphql-core's executor with a short path for plain values.

A page of interviews has about 750 fields, and most of them are plain attributes: an id,
a status, a start, a participant's email. graphql-core executes each through the general
path (a `Path`, a resolve info, Strawberry's resolver wrapper, an awaitable check and the
dispatch of `complete_value`), which was most of a list request's time. Here a field that
Strawberry itself resolves as a plain attribute (no resolver, no arguments, the default
`getattr`) is read and completed directly: a scalar or enum is coerced, an object (of a
type with no check of its own, or with Strawberry's isinstance check) has its sub-selection
executed, and a list of either is completed item by item. Anything unusual about the value
(None where the type forbids it, an exception, an awaitable, a value the scalar or the type
check refuses, a list that is not one) sends the whole field back to graphql-core's own
path before anything of it ran, so errors, their paths and null propagation are
graphql-core's.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
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

TypeCheck = Callable[[Any, Any], Any]  # Strawberry's returns a bool


@dataclass(frozen=True, slots=True)
class PlainValue:
    """What a plain attribute (or each item of it) completes as."""

    nullable: bool
    graphql_type: GraphQLOutputType  # as declared, NonNull included (for errors)
    leaf: GraphQLLeafType | None  # a scalar or enum: coerced directly
    object_type: GraphQLObjectType | None  # an object: its sub-selection executed
    check: TypeCheck | None  # Strawberry's own is_type_of of the object type, if any


@dataclass(frozen=True, slots=True)
class PlainField:
    """How to complete a field that is a plain attribute of its parent."""

    attribute: str
    value: PlainValue  # the field's value, or the list itself when `item` is set
    item: PlainValue | None  # a list's items


_NO_KIND: tuple[None, None, None] = (None, None, None)  # a list: its items say what they are
_UNKNOWN = object()
_SLOW = object()  # the short path declined: graphql-core's path completes the field


def _plain_value(graphql_type: GraphQLOutputType) -> PlainValue | None:
    nullable = not isinstance(graphql_type, GraphQLNonNull)
    named = graphql_type.of_type if isinstance(graphql_type, GraphQLNonNull) else graphql_type
    if is_leaf_type(named):
        return PlainValue(nullable, graphql_type, named, None, None)
    if not is_object_type(named):
        return None  # abstract types resolve their runtime type first
    if named.is_type_of is None:
        return PlainValue(nullable, graphql_type, None, named, None)
    definition = named.extensions.get("strawberry-definition")
    if definition is not None and definition.is_type_of is None:
        # Strawberry's own check (an isinstance over the type and its interfaces): it
        # does not read the resolve info. A type's own is_type_of might: not short.
        return PlainValue(nullable, graphql_type, None, named, named.is_type_of)
    return None


def plain_field(field_def: GraphQLField | None, *, streams: bool = False) -> PlainField | None:
    """The short path for this field, or None when graphql-core's path must run it.

    `streams`: the schema has @stream, whose lists graphql-core delivers incrementally.
    """
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
    named = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    if isinstance(named, GraphQLList):
        item = _plain_value(named.of_type)
        if item is None or streams:
            return None
        listing = PlainValue(not isinstance(return_type, GraphQLNonNull), return_type, *_NO_KIND)
        return PlainField(definition.python_name, listing, item)
    value = _plain_value(return_type)
    return None if value is None else PlainField(definition.python_name, value, None)


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

    @functools.cached_property
    def _plain_plans(self) -> dict[tuple[str, str], Any]:
        # Looked up once per request, not once per object (a weak-key lookup makes a weakref).
        return _plans(self.schema)

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
        plans = self._plain_plans
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list in grouped_field_set.items():
                key = (parent_type.name, field_details_list[0].node.name.value)
                plan = plans.get(key, _UNKNOWN)
                if plan is _UNKNOWN:
                    streams = self.schema.get_directive("stream") is not None
                    field_def = self.schema.get_field(parent_type, key[1])
                    plan = plans[key] = plain_field(field_def, streams=streams)
                result: Any = _SLOW
                if plan is not None:
                    value = plan.value
                    if value.leaf is not None:
                        result = _leaf(value, _attribute(source_value, plan.attribute))
                        if result is not _SLOW:
                            results[response_name] = result
                            continue
                    else:
                        field_path = Path(path, response_name, parent_type.name)
                        result = self._plain(
                            plan, source_value, field_details_list, field_path, position_context
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

    def _usable(self, value: PlainValue, item: Any) -> bool:
        """Whether the short path may complete this object value (None aside)."""
        if isinstance(item, Exception) or self.is_awaitable(item):
            return False
        return value.check is None or bool(value.check(item, None))

    def _plain(
        self,
        plan: PlainField,
        source_value: Any,
        field_details_list: FieldDetailsList,
        field_path: Path,
        position_context: Any,
    ) -> Any:
        """An object or a list, completed as graphql-core's execute_field would, or _SLOW."""
        found = _attribute(source_value, plan.attribute)
        if found is _SLOW:
            return _SLOW
        if found is None:
            return None if plan.value.nullable else _SLOW
        item = plan.item
        if item is None:
            if not self._usable(plan.value, found):
                return _SLOW
        elif not isinstance(found, list | tuple):
            return _SLOW
        elif item.leaf is not None:  # leaves have no sub-selection: nothing ran yet
            leaves = [_leaf(item, x) for x in found]
            return _SLOW if any(x is _SLOW for x in leaves) else leaves
        elif any(
            (x is None and not item.nullable) or (x is not None and not self._usable(item, x))
            for x in found
        ):  # checked before any item runs, so that nothing runs twice
            return _SLOW
        try:
            if item is None:
                assert plan.value.object_type is not None
                completed = self.collect_and_execute_subfields(
                    plan.value.object_type, field_details_list, field_path, found, position_context
                )
            else:
                completed = self._objects(
                    item, found, field_details_list, field_path, position_context
                )
        except Exception as raw_error:  # as graphql-core's execute_field handles it
            self.handle_field_error(
                raw_error, plan.value.graphql_type, field_details_list, field_path
            )
            return None
        if self.is_awaitable(completed):
            return self._guarded(completed, plan.value.graphql_type, field_details_list, field_path)
        return completed

    def _objects(
        self,
        item: PlainValue,
        found: list[Any] | tuple[Any, ...],
        field_details_list: FieldDetailsList,
        field_path: Path,
        position_context: Any,
    ) -> Any:
        """A list of objects, as graphql-core's complete_iterable_value completes it."""
        assert item.object_type is not None
        completed: list[Any] = []
        awaitable_indices: list[int] = []
        try:
            for index, value in enumerate(found):
                if value is None:
                    completed.append(None)
                    continue
                item_path = field_path.add_key(index, None)
                try:
                    one = self.collect_and_execute_subfields(
                        item.object_type, field_details_list, item_path, value, position_context
                    )
                except Exception as raw_error:
                    self.handle_field_error(
                        raw_error, item.graphql_type, field_details_list, item_path
                    )
                    one = None
                if self.is_awaitable(one):
                    one = self._guarded(one, item.graphql_type, field_details_list, item_path)
                    awaitable_indices.append(index)
                completed.append(one)
        except Exception:
            if awaitable_indices:
                self.settle_in_background([completed[i] for i in awaitable_indices])
            raise
        if not awaitable_indices:
            return completed

        async def gathered() -> list[Any]:
            awaited = await gather_with_cancel(*(completed[i] for i in awaitable_indices))
            for index, value in zip(awaitable_indices, awaited, strict=True):
                completed[index] = value
            return completed

        return gathered()

    async def _guarded(
        self,
        completed: Awaitable[Any],
        graphql_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        field_path: Path,
    ) -> Any:
        """An awaited completion whose error nulls this value (or propagates, if non-null)."""
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, graphql_type, field_details_list, field_path)
            return None


def _attribute(source_value: Any, name: str) -> Any:
    try:
        return getattr(source_value, name)
    except Exception:
        return _SLOW


def _leaf(value: PlainValue, found: Any) -> Any:
    """A scalar or enum coerced as graphql-core's complete_leaf_value does, or _SLOW."""
    if found is None:
        return None if value.nullable else _SLOW
    if found is _SLOW or isinstance(found, Exception):
        return _SLOW
    assert value.leaf is not None
    try:
        coerced = value.leaf.coerce_output_value(found)
    except Exception:
        return _SLOW
    if coerced is None or coerced is Undefined:
        return _SLOW
    return coerced
