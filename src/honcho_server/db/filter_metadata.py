"""The ``metadata`` part of the filter language (BEHAVIOUR 10.4), over a JSONB column.

* ``{"metadata": {"k": v, ...}}``: one condition per key, ANDed. ``"*"`` = no condition, an operator
  object (``{"gte": 4}``) compares the text value ``metadata ->> 'k'``, anything else is JSON
  containment ``metadata @> {"k": v}``.
* ``{"metadata": {"contains": {...}}}``: containment of the whole object (no sibling keys).
* A bare array is containment of that array (never matches an object); scalars are rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, false, literal
from sqlalchemy.dialects.postgresql import JSONB

from .filter_values import (
    COMPARE,
    OPERATORS,
    SUBSTRING,
    FilterColumn,
    InvalidFilter,
    as_number,
    check_json,
    check_text,
    describe,
    guarded_numeric,
    is_wildcard,
    json_literal,
    like_pattern,
    numeric_literal,
)

Condition = ColumnElement[bool]


def metadata_condition(value: object, column: FilterColumn) -> Condition | None:
    """The condition for the value of a ``metadata`` filter key (wildcard already handled)."""
    if isinstance(value, list):
        check_json(value, "metadata")
        return column.contains(json_literal(value))
    if not isinstance(value, Mapping):
        raise InvalidFilter(
            f"Filter on 'metadata' must be an object, got {describe(value)} "
            '(e.g. {"metadata": {"key": "value"}})'
        )
    if any(key in OPERATORS for key in value):
        return _whole_object_operators(value, column)
    conditions = [
        cond for key, sub in value.items() if (cond := _key_condition(key, sub, column)) is not None
    ]
    return and_(*conditions) if conditions else None


def _whole_object_operators(ops: Mapping[str, Any], column: FilterColumn) -> Condition | None:
    conditions: list[Condition] = []
    for op, operand in ops.items():
        if op != "contains":
            if op in OPERATORS:
                raise InvalidFilter(
                    f"Operator '{op}' cannot be applied to the whole 'metadata' object; "
                    "use 'contains' with an object, or filter on individual keys"
                )
            raise InvalidFilter(
                f"Filter on 'metadata' mixes the operator form with the key '{op}'; "
                "operator names cannot be used as metadata keys at the top level"
            )
        if is_wildcard(operand):
            continue
        if not isinstance(operand, Mapping | list):
            raise InvalidFilter(
                f"'contains' on 'metadata' takes an object or an array, got {describe(operand)}"
            )
        check_json(operand, "metadata")
        conditions.append(column.contains(json_literal(operand)))
    return and_(*conditions) if conditions else None


def _key_condition(key: str, value: object, column: FilterColumn) -> Condition | None:
    check_text(key, "metadata")
    if is_wildcard(value):
        return None
    if isinstance(value, Mapping) and any(op in OPERATORS for op in value):
        return _key_operators(key, value, column)
    check_json(value, f"metadata.{key}")
    return column.contains(json_literal({key: value}))


def _key_operators(key: str, ops: Mapping[str, Any], column: FilterColumn) -> Condition | None:
    where = f"metadata.{key}"
    unknown = sorted(op for op in ops if op not in OPERATORS)
    if unknown:
        raise InvalidFilter(
            f"Unknown operator '{unknown[0]}' in filter on '{where}' "
            f"(allowed: {', '.join(sorted(OPERATORS))})"
        )
    text = column.op("->>", return_type=Text())(literal(key, Text()))
    json_value = column.op("->", return_type=JSONB())(literal(key, Text()))
    conditions: list[Condition] = []
    for op, operand in ops.items():
        if is_wildcard(operand):
            continue
        if operand is None:
            if op != "ne":
                raise InvalidFilter(f"Operator '{op}' on '{where}' does not accept null")
            conditions.append(text.is_not(None))
        elif op == "in":
            cond = _key_in(where, operand, json_value)
            if cond is not None:
                conditions.append(cond)
        elif op in SUBSTRING:
            conditions.append(text.ilike(like_pattern(operand, where), escape="\\"))
        else:
            conditions.append(_key_compare(where, op, operand, text))
    return and_(*conditions) if conditions else None


def _key_in(where: str, operand: object, value: ColumnElement[Any]) -> Condition | None:
    """``metadata -> 'k'`` equal (as JSON) to one of the elements; ``[]`` matches nothing."""
    if not isinstance(operand, list):
        raise InvalidFilter(f"Operator 'in' on '{where}' takes an array, got {describe(operand)}")
    check_json(operand, where)
    if any(is_wildcard(item) for item in operand):
        return None
    if not operand:
        return false()
    return value.in_([json_literal(item) for item in operand])


def _key_compare(where: str, op: str, operand: object, text: ColumnElement[Any]) -> Condition:
    """gt/gte/lt/lte/ne on the text value: numeric, boolean-as-text, or lexicographic."""
    if isinstance(operand, bool):
        left: ColumnElement[Any] = text
        right: ColumnElement[Any] = literal("true" if operand else "false", Text())
    elif (number := as_number(operand)) is not None:
        left, right = guarded_numeric(text), numeric_literal(number)
    elif isinstance(operand, str):
        left, right = text, literal(check_text(operand, where), Text())
    else:
        raise InvalidFilter(
            f"Operator '{op}' on '{where}' takes a string, number or boolean, "
            f"got {describe(operand)}"
        )
    if op == "ne":
        return left.is_distinct_from(right)
    return COMPARE[op](left, right)
