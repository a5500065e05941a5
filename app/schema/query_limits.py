"""Depth, alias and cost limits, computed in one pass over the document.

Strawberry's QueryDepthLimiter and MaxAliasesLimiter walk every fragment again at every
spread, so a document whose fragment F_i spreads F_(i-1) twice costs 2^i steps: 884 bytes
froze the process (issue 10). Here each fragment's measure is computed once and reused at
every spread, so the work is linear in the document while the figures still count the
query as it would run (a fragment spread twice counts twice): the bomb is measured in
microseconds and refused for what it would cost.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    ValidationContext,
    ValidationRule,
    get_named_type,
)

from app.pagination import MAX_PAGE

# How many items a list field is assumed to hold when it has no `first`/`last` argument:
# the upper bound a business rule or input cap gives it. Estimates, not counts: a query is
# priced before anything is read.
LIST_SIZES: Mapping[str, int] = {
    "Interview.windows": 50,  # at most 50 windows an interview (scheduling/windows.py)
    "Interview.participants": 100,  # 50 members + 50 invitees
    "Query.myApplications": 20,
    "Query.myCalendarConnections": 2,  # one per provider
    "User.calendarConnections": 2,
    "SlotAvailability.days": 50,
    "SlotDay.slots": 20,
    "SlotAvailability.uncheckedCalendars": 2,
}
DEFAULT_LIST_SIZE = 20  # any other list, introspection's included


@dataclass(frozen=True)
class QueryLimits:
    max_depth: int
    max_aliases: int
    max_cost: int


@dataclass(frozen=True)
class Measure:
    """What a selection set asks for: nesting of object fields, aliases and estimated cost."""

    depth: int = 0
    aliases: int = 0
    cost: int = 0


ZERO = Measure()


@dataclass
class DocumentMeasurer:
    """Measures every operation of a document; each fragment once, whatever its spreads."""

    schema: GraphQLSchema
    document: DocumentNode
    visited: int = 0  # selection nodes looked at: the work done, for tests and benches
    fragments: dict[str, FragmentDefinitionNode] = field(default_factory=dict)
    _memo: dict[str, Measure] = field(default_factory=dict)
    _in_progress: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        definitions = self.document.definitions
        self.fragments = {
            d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)
        }

    def operations(self) -> list[tuple[OperationDefinitionNode, Measure]]:
        return [
            (d, self.selection_set(d.selection_set, self._root_type(d.operation)))
            for d in self.document.definitions
            if isinstance(d, OperationDefinitionNode)
        ]

    def _root_type(self, operation: OperationType) -> GraphQLObjectType | None:
        if operation is OperationType.MUTATION:
            return self.schema.mutation_type
        if operation is OperationType.SUBSCRIPTION:
            return self.schema.subscription_type
        return self.schema.query_type

    def selection_set(self, node: SelectionSetNode, parent: GraphQLNamedType | None) -> Measure:
        depth = aliases = cost = 0
        for selection in node.selections:
            self.visited += 1
            if isinstance(selection, FieldNode):
                measure = self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                measure = self.selection_set(selection.selection_set, target)
            elif isinstance(selection, FragmentSpreadNode):
                measure = self.fragment(selection.name.value)
            else:  # pragma: no cover - graphql-core has no other selection kinds
                continue
            depth = max(depth, measure.depth)
            aliases += measure.aliases
            cost += measure.cost
        return Measure(depth=depth, aliases=aliases, cost=cost)

    def fragment(self, name: str) -> Measure:
        if name in self._memo:
            return self._memo[name]
        definition = self.fragments.get(name)
        if definition is None or name in self._in_progress:
            # Unknown fragments and cycles are refused by graphql-core's own rules
            # (KnownFragmentNames, NoFragmentCycles); here they only must not recurse.
            return ZERO
        self._in_progress.add(name)
        target = self.schema.get_type(definition.type_condition.name.value)
        measure = self.selection_set(definition.selection_set, target)
        self._in_progress.discard(name)
        self._memo[name] = measure
        return measure

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> Measure:
        alias = 1 if node.alias else 0
        if node.selection_set is None:
            return Measure(aliases=alias)  # a leaf: no resolver work of its own to price
        definition = _field_definition(parent, node.name.value)
        child_type = get_named_type(definition.type) if definition else None
        child = self.selection_set(node.selection_set, child_type)
        size = _list_size(parent, node, definition)
        # Introspection's type references nest ofType eight deep: depth is about the data
        # (cost still counts introspection, whose nested lists multiply like any other).
        depth = 0 if node.name.value.startswith("__") else child.depth + 1
        return Measure(depth=depth, aliases=alias + child.aliases, cost=size * (1 + child.cost))


def _field_definition(parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    if name == "__schema":
        return SchemaMetaFieldDef
    if name == "__type":
        return TypeMetaFieldDef
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        found: GraphQLField | None = parent.fields.get(name)
        return found
    return None  # unknown fields are refused by FieldsOnCorrectType


def _is_list(definition: GraphQLField) -> bool:
    field_type: Any = definition.type
    if isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    return isinstance(field_type, GraphQLList)


def _list_size(
    parent: GraphQLNamedType | None, node: FieldNode, definition: GraphQLField | None
) -> int:
    """How many objects this field is priced for."""
    if definition is None:
        return 1
    for name in ("first", "last"):
        if name in definition.args:
            # A paged field: its children are priced `first` times. A variable is priced
            # at the page cap, as its value is not known while the document is validated.
            for argument in node.arguments or ():
                if argument.name.value == name:
                    value = argument.value
                    if isinstance(value, IntValueNode):
                        return max(1, min(int(value.value), MAX_PAGE))
                    return MAX_PAGE
            default = definition.args[name].default_value
            return default if isinstance(default, int) and default > 0 else MAX_PAGE
    if parent is not None and parent.name.endswith("Connection") and node.name.value == "edges":
        return 1  # already priced by the paged field that returned the connection
    if _is_list(definition):
        key = f"{parent.name if parent else ''}.{node.name.value}"
        return LIST_SIZES.get(key, DEFAULT_LIST_SIZE)
    return 1


def limits_error(code: str, message: str, node: Any = None) -> GraphQLError:
    return GraphQLError(message, node, extensions={"code": code})


def check_document(
    schema: GraphQLSchema, document: DocumentNode, limits: QueryLimits
) -> tuple[list[GraphQLError], int]:
    """The refusals for a document, and the number of selection nodes looked at."""
    measurer = DocumentMeasurer(schema, document)
    try:
        measured = measurer.operations()
    except RecursionError:
        # Only a document nested beyond anything the depth limit admits gets here.
        return [limits_error("QUERY_TOO_DEEP", "The query is nested too deeply.")], measurer.visited
    errors: list[GraphQLError] = []
    for operation, measure in measured:
        if measure.depth > limits.max_depth:
            errors.append(
                limits_error(
                    "QUERY_TOO_DEEP",
                    f"The query nests {measure.depth} levels of objects; "
                    f"at most {limits.max_depth} are allowed.",
                    operation,
                )
            )
        if measure.aliases > limits.max_aliases:
            errors.append(
                limits_error(
                    "TOO_MANY_ALIASES",
                    f"The query uses {measure.aliases} aliases; "
                    f"at most {limits.max_aliases} are allowed.",
                    operation,
                )
            )
        if measure.cost > limits.max_cost:
            errors.append(
                limits_error(
                    "QUERY_TOO_COMPLEX",
                    f"The query could read about {measure.cost:,} objects; at most "
                    f"{limits.max_cost:,} are allowed. Ask for smaller pages (first) "
                    "or fewer nested lists.",
                    operation,
                )
            )
    return errors, measurer.visited


@functools.cache
def limits_rule(limits: QueryLimits) -> type[ValidationRule]:
    """A graphql-core validation rule that refuses documents beyond `limits`."""

    class QueryLimitsRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            errors, _ = check_document(context.schema, context.document, limits)
            for error in errors:
                context.report_error(error)

    return QueryLimitsRule
