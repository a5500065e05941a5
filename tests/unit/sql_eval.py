"""Evaluating the SQL filters the rules build, on objects in memory, without a database.

Only what the rule modules use: columns compared with values (=, !=, <, <=, >, >=, IN,
IS NULL), AND, OR, TRUE and FALSE. Anything else raises, so a filter growing a new shape
fails loudly here instead of being misread.
"""

from __future__ import annotations

import operator
from typing import Any

from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import (
    BinaryExpression,
    BindParameter,
    BooleanClauseList,
    ColumnElement,
    False_,
    Grouping,
    Null,
    True_,
)
from sqlalchemy.sql.schema import Column

_COMPARE = {
    operators.eq: operator.eq,
    operators.ne: operator.ne,
    operators.lt: operator.lt,
    operators.le: operator.le,
    operators.gt: operator.gt,
    operators.ge: operator.ge,
}


def evaluate(expression: ColumnElement[Any], rows: dict[str, Any]) -> bool:
    """`rows` maps a table name to the object standing for its row.

    SQL's three-valued logic is kept: a comparison with NULL is unknown (None), and a row
    passes a WHERE only when the condition is true.
    """
    return _value(expression, rows) is True


def _value(node: Any, rows: dict[str, Any]) -> Any:
    if isinstance(node, True_):
        return True
    if isinstance(node, False_):
        return False
    if isinstance(node, Null):
        return None
    if isinstance(node, Grouping):
        return _value(node.element, rows)
    if isinstance(node, BindParameter):
        return node.effective_value
    if isinstance(node, Column):
        return getattr(rows[node.table.name], node.key)
    if isinstance(node, BooleanClauseList):
        values = [_value(clause, rows) for clause in node.clauses]
        if node.operator is operators.and_:
            return False if False in values else (None if None in values else True)
        if node.operator is operators.or_:
            return True if True in values else (None if None in values else False)
    if isinstance(node, BinaryExpression):
        left, right = _value(node.left, rows), _value(node.right, rows)
        if node.operator in _COMPARE:
            return None if left is None or right is None else _COMPARE[node.operator](left, right)
        if node.operator is operators.in_op:
            return None if left is None else left in right
        if node.operator is operators.is_:
            return left is right
        if node.operator is operators.is_not:
            return left is not right
    raise NotImplementedError(f"cannot evaluate {type(node).__name__}: {node}")


def sort(rows: list[Any], ordering: tuple[Any, ...], table: str) -> list[Any]:
    """Rows in the ORDER BY the rules build: each term a column, ascending or descending."""
    result = list(rows)
    for term in reversed(ordering):  # stable sorts, last key first
        modifier = term.modifier
        if modifier not in (operators.asc_op, operators.desc_op):
            raise NotImplementedError(f"cannot sort by {term}")
        column = term.element
        result.sort(
            key=lambda row, c=column: _value(c, {table: row}),
            reverse=modifier is operators.desc_op,
        )
    return result
