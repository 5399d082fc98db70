"""Size limits of a filter, counted before anything is compiled.

Each value in a filter becomes a bind parameter and each clause a piece of SQL; asyncpg
refuses more than 32,767 parameters and compiling tens of thousands of clauses takes seconds
of CPU on the event loop. So a filter is measured first, with a walk that stops at the first
limit it passes (an ``OR`` of 10,000 branches is refused after reading its length):

* :data:`MAX_DEPTH` logical levels (``AND``/``OR``/``NOT``) below the top (BEHAVIOUR §10);
* :data:`MAX_CLAUSES` conditions in all (each field key, each operator, each metadata key);
* :data:`MAX_BRANCHES` filter objects in logical arrays in all;
* :data:`MAX_IN_VALUES` elements in any one list (``in``, or an array value);
* :data:`MAX_VALUES` operand values in all: with the clauses, at most ~5,200 bind
  parameters, far below the driver's 32,767 whatever the rest of the query adds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .filter_values import OPERATORS, InvalidFilter

MAX_DEPTH = 5
MAX_CLAUSES = 200
MAX_BRANCHES = 200
MAX_IN_VALUES = 1_000
MAX_VALUES = 5_000
LOGICAL = frozenset({"AND", "OR", "NOT"})


def check_filter_limits(filters: Mapping[str, Any]) -> None:
    """Raise :class:`InvalidFilter` (422) when ``filters`` passes a limit; shape errors are
    left to the compiler, which reports them precisely."""
    clauses = values = branches = 0
    stack: list[tuple[object, int]] = [(filters, 0)]
    while stack:
        obj, depth = stack.pop()
        if not isinstance(obj, Mapping):
            continue
        for key, value in obj.items():
            if key in LOGICAL and isinstance(value, list):
                if depth >= MAX_DEPTH:
                    raise InvalidFilter(f"Filter nesting exceeds maximum depth of {MAX_DEPTH}")
                branches += len(value)
                if branches > MAX_BRANCHES:
                    raise InvalidFilter(
                        f"Filter has too many AND/OR/NOT branches (at most {MAX_BRANCHES})"
                    )
                stack.extend((sub, depth + 1) for sub in value)
                continue
            more_clauses, more_values = _cost(key == "metadata", value)
            clauses += more_clauses
            values += more_values
            _check_clauses(clauses)
            if values > MAX_VALUES:
                raise InvalidFilter(
                    f"Filter has too many values (at most {MAX_VALUES} in all, "
                    f"at most {MAX_IN_VALUES} in one list)"
                )


def _check_clauses(clauses: int) -> None:
    if clauses > MAX_CLAUSES:
        raise InvalidFilter(f"Filter has too many conditions (at most {MAX_CLAUSES})")


def _cost(is_metadata: bool, value: object) -> tuple[int, int]:
    """(clauses, values) of one field key's value."""
    if isinstance(value, list):
        return 1, _list_length(value)
    if not isinstance(value, Mapping):
        return 1, 1
    if is_metadata and not any(op in OPERATORS for op in value):
        clauses = values = 0  # one condition per metadata key
        for sub in value.values():
            more_clauses, more_values = _cost(False, sub)
            clauses, values = clauses + more_clauses, values + more_values
        return max(clauses, 1), values
    operands = value.values()
    return max(len(value), 1), sum(_list_length(v) if isinstance(v, list) else 1 for v in operands)


def _list_length(values: list[Any]) -> int:
    if len(values) > MAX_IN_VALUES:
        raise InvalidFilter(f"Filter lists may have at most {MAX_IN_VALUES} values")
    return len(values)
