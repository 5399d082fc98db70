"""Honcho's filter language (BEHAVIOUR §10) compiled to one SQLAlchemy boolean expression.

Pure expression building: no sessions or engines. Every invalid filter raises
:class:`InvalidFilter` (a 422 :class:`~honcho_server.errors.Invalid`); no key is ever ignored.

Structure: entries of an object are ANDed; ``AND``/``OR``/``NOT`` take arrays of filter objects
(``NOT`` = none of them, null-safe); at most 5 logical levels below the top. Field values: scalar
(equality), ``"*"`` (no condition), ``null`` (IS NULL), array (IN), or an operator object
(``gt gte lt lte ne in contains icontains``). ``metadata`` is handled in :mod:`.filter_metadata`.
Array fields (a conclusion's ``source_ids``) read differently, as upstream does: a string or
``{"contains": id}`` holds that id, an array holds all of them, ``{"in": [...]}`` any of them,
``null`` none at all.
Size limits (conditions, values, list lengths) are checked first, in :mod:`.filter_limits`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Boolean, ColumnElement, Text, and_, false, func, literal, not_, or_
from sqlalchemy.dialects.postgresql import ARRAY

from .filter_limits import LOGICAL, MAX_DEPTH, check_filter_limits
from .filter_metadata import metadata_condition
from .filter_values import (
    COMPARE,
    COMPARISONS,
    OPERATORS,
    SUBSTRING,
    FilterColumn,
    InvalidFilter,
    bool_value,
    check_text,
    datetime_value,
    describe,
    enum_value,
    is_wildcard,
    like_pattern,
    number_value,
    text_value,
)
from .models import Conclusion, Message, Peer, Session, Workspace

__all__ = [
    "CONCLUSION_FILTERS",
    "MAX_DEPTH",
    "MESSAGE_FILTERS",
    "PEER_FILTERS",
    "SESSION_FILTERS",
    "WORKSPACE_FILTERS",
    "FieldKind",
    "FilterField",
    "FilterSpec",
    "InvalidFilter",
    "build_filter",
]

FieldKind = Literal["text", "int", "bool", "datetime", "enum", "array"]
Condition = ColumnElement[bool]

CONCLUSION_LEVELS = frozenset({"explicit", "deductive", "inductive", "contradiction"})

_ORDERED = COMPARISONS | {"ne", "in"}
_ALLOWED_OPERATORS: dict[FieldKind, frozenset[str]] = {
    "text": OPERATORS,
    "int": _ORDERED,
    "datetime": _ORDERED,
    "bool": frozenset({"ne", "in"}),
    "enum": frozenset({"ne", "in"}),
    "array": frozenset({"contains", "in"}),  # membership of one id / of any of several
}


@dataclass(frozen=True)
class FilterField:
    column: FilterColumn
    kind: FieldKind
    choices: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FilterSpec:
    resource: str
    fields: Mapping[str, FilterField]
    metadata: FilterColumn | None
    unfilterable: frozenset[str] = frozenset()  # known columns that cannot be filtered on


def build_filter(filters: Mapping[str, Any] | None, spec: FilterSpec) -> Condition | None:
    """None / {} → None (no condition). Otherwise one SQL boolean expression."""
    if filters is None:
        return None
    if isinstance(filters, Mapping):
        check_filter_limits(filters)  # cheap, and before any SQL is built
    return _object_condition(filters, spec, 0)


def _object_condition(filters: object, spec: FilterSpec, depth: int) -> Condition | None:
    if not isinstance(filters, Mapping):
        raise InvalidFilter(f"A filter must be a JSON object, got {describe(filters)}")
    conditions: list[Condition] = []
    for key, value in filters.items():
        if key in LOGICAL:
            cond = _logical_condition(key, value, spec, depth)
        else:
            cond = _key_condition(key, value, spec)
        if cond is not None:
            conditions.append(cond)
    return _all(conditions)


def _logical_condition(key: str, value: object, spec: FilterSpec, depth: int) -> Condition | None:
    if not isinstance(value, list):
        raise InvalidFilter(f"'{key}' must be an array of filter objects, got {describe(value)}")
    if depth >= MAX_DEPTH:
        raise InvalidFilter(f"Filter nesting exceeds maximum depth of {MAX_DEPTH}")
    # Build (and so validate) every branch first; None means "matches everything".
    branches = [_object_condition(sub, spec, depth + 1) for sub in value]
    if key == "AND":
        return _all([b for b in branches if b is not None])
    if key == "OR":
        if not branches or any(b is None for b in branches):
            return None
        return or_(*[b for b in branches if b is not None])
    return _all([false() if b is None else _negate(b) for b in branches])


def _negate(condition: Condition) -> Condition:
    """Null-safe negation: rows where ``condition`` is NULL (e.g. a NULL field) are kept."""
    return not_(func.coalesce(condition, false(), type_=Boolean()))


def _all(conditions: list[Condition]) -> Condition | None:
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else and_(*conditions)


def _key_condition(key: object, value: object, spec: FilterSpec) -> Condition | None:
    if not isinstance(key, str):
        raise InvalidFilter(f"Filter keys must be strings, got {describe(key)}")
    _check_key(key, spec)
    if is_wildcard(value):
        return None
    if key == "metadata" and spec.metadata is not None:
        return metadata_condition(value, spec.metadata)
    return _field_condition(key, value, spec.fields[key])


def _check_key(key: str, spec: FilterSpec) -> None:
    if key in spec.fields or (key == "metadata" and spec.metadata is not None):
        return
    allowed = ", ".join(sorted(_spec_keys(spec)))
    plural = f"{spec.resource}s"
    if key in spec.unfilterable:
        raise InvalidFilter(f"Filter field '{key}' is not filterable on {plural}")
    if key in _known_keys():
        raise InvalidFilter(
            f"Filter field '{key}' does not exist on {plural} (filterable fields: {allowed})"
        )
    raise InvalidFilter(
        f"Filter field '{key}' is not allowed (filterable fields on {plural}: {allowed})"
    )


def _spec_keys(spec: FilterSpec) -> set[str]:
    return set(spec.fields) | ({"metadata"} if spec.metadata is not None else set())


def _known_keys() -> set[str]:
    """Every key some resource knows; a key outside this set is 'not allowed' anywhere."""
    return set().union(*(_spec_keys(spec) | spec.unfilterable for spec in _ALL_SPECS))


# --- plain (non-metadata) fields ------------------------------------------------------------


def _field_condition(name: str, value: object, fld: FilterField) -> Condition | None:
    if fld.kind == "array":
        return _array_condition(name, value, fld)
    if value is None:
        return fld.column.is_(None)
    if isinstance(value, list):
        return _in_condition(name, value, fld)
    if isinstance(value, Mapping):
        return _operator_condition(name, value, fld)
    equal: Condition = fld.column == _operand(name, value, fld)
    return equal


def _operator_condition(name: str, ops: Mapping[str, Any], fld: FilterField) -> Condition | None:
    if not ops or all(op not in OPERATORS for op in ops):
        raise InvalidFilter(
            f"Filter on '{name}' is an object without an operator; use a plain value for "
            f"equality or one of: {', '.join(sorted(_ALLOWED_OPERATORS[fld.kind]))}"
        )
    conditions: list[Condition] = []
    for op, operand in ops.items():
        _check_operator(name, op, fld)
        if is_wildcard(operand):
            continue
        if operand is None:
            if op != "ne":
                raise InvalidFilter(f"Operator '{op}' on '{name}' does not accept null")
            conditions.append(fld.column.is_not(None))
        elif op == "in":
            cond = _in_condition(name, operand, fld)
            if cond is not None:
                conditions.append(cond)
        elif op in SUBSTRING:
            pattern = like_pattern(operand, name)
            conditions.append(fld.column.ilike(pattern, escape="\\"))
        elif op == "ne":
            conditions.append(fld.column.is_distinct_from(_operand(name, operand, fld)))
        else:
            conditions.append(COMPARE[op](fld.column, _operand(name, operand, fld)))
    return _all(conditions)


def _check_operator(name: str, op: str, fld: FilterField) -> None:
    allowed = _ALLOWED_OPERATORS[fld.kind]
    if op in allowed:
        return
    if op in OPERATORS:
        raise InvalidFilter(
            f"Operator '{op}' is not supported on '{name}' ({fld.kind} field; "
            f"supported: {', '.join(sorted(allowed))})"
        )
    raise InvalidFilter(
        f"Unknown operator '{op}' in filter on '{name}' (allowed: {', '.join(sorted(allowed))})"
    )


def _in_condition(name: str, values: object, fld: FilterField) -> Condition | None:
    """Membership; ``[]`` matches nothing and an array containing ``"*"`` matches everything."""
    if not isinstance(values, list):
        raise InvalidFilter(f"Operator 'in' on '{name}' takes an array, got {describe(values)}")
    if any(v is None for v in values):
        raise InvalidFilter(f"Operator 'in' on '{name}' does not accept null elements")
    operands = [_operand(name, v, fld) for v in values if not is_wildcard(v)]
    if len(operands) < len(values):
        return None
    if not operands:
        return false()
    return fld.column.in_(operands)


def _array_condition(name: str, value: object, fld: FilterField) -> Condition | None:
    """An array of ids: ``"x"`` / ``{"contains": "x"}`` hold x, ``["x", "y"]`` hold both,
    ``{"in": ["x", "y"]}`` hold either (``[]``: nothing), ``null`` holds none at all; ``"*"``
    anywhere is no condition."""
    if value is None:
        return func.cardinality(fld.column) == 0
    if isinstance(value, str):
        return _holds_all(fld, [_array_entry(name, value)])
    if isinstance(value, list):
        if any(is_wildcard(v) for v in value):
            return None
        return _holds_all(fld, [_array_entry(name, v) for v in value])
    if not isinstance(value, Mapping):
        raise InvalidFilter(
            f"Invalid value for '{name}': {describe(value)} (expected an id, an array of ids "
            "or an operator object)"
        )
    if not value:
        raise InvalidFilter(
            f"Filter on '{name}' is an object without an operator; use one of: contains, in"
        )
    conditions: list[Condition] = []
    for op, operand in value.items():
        _check_operator(name, op, fld)
        if is_wildcard(operand):
            continue
        if op == "contains":
            conditions.append(_holds_all(fld, [_array_entry(name, operand)]))
            continue
        if not isinstance(operand, list):
            raise InvalidFilter(
                f"Operator 'in' on '{name}' takes an array, got {describe(operand)}"
            )
        if any(is_wildcard(v) for v in operand):
            continue
        ids = [_array_entry(name, v) for v in operand]
        conditions.append(fld.column.op("&&")(_ids(ids)) if ids else false())
    return _all(conditions)


def _array_entry(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidFilter(
            f"Invalid value for '{name}': {describe(value)} (expected a non-empty string id)"
        )
    return check_text(value, name)


def _ids(ids: list[str]) -> ColumnElement[Any]:
    return literal(ids, ARRAY(Text()))


def _holds_all(fld: FilterField, ids: list[str]) -> Condition:
    held: Condition = fld.column.op("@>")(_ids(ids))
    return held


def _operand(name: str, value: object, fld: FilterField) -> Any:
    """The type-checked operand for ``fld``; raises :class:`InvalidFilter` on a mismatch."""
    return _OPERANDS[fld.kind](value, name, fld)


_OPERANDS: dict[FieldKind, Callable[[object, str, FilterField], Any]] = {
    "text": lambda v, name, _f: text_value(v, name),
    "int": lambda v, name, _f: number_value(v, name),
    "bool": lambda v, name, _f: bool_value(v, name),
    "datetime": lambda v, name, _f: datetime_value(v, name),
    "enum": lambda v, name, f: enum_value(v, name, f.choices),
    "array": lambda v, name, _f: _array_entry(name, v),
}


# --- per-resource specs (BEHAVIOUR 10.1) ----------------------------------------------------


def _text(column: FilterColumn) -> FilterField:
    return FilterField(column, "text")


def _datetime(column: FilterColumn) -> FilterField:
    return FilterField(column, "datetime")


WORKSPACE_FILTERS = FilterSpec(
    resource="workspace",
    fields={"id": _text(Workspace.name), "created_at": _datetime(Workspace.created_at)},
    metadata=Workspace.metadata_,
)


def peer_filters(
    name: FilterColumn, created_at: FilterColumn, workspace: FilterColumn, metadata: FilterColumn
) -> FilterSpec:
    """The peer filters over other columns (a listing that includes scope peers)."""
    return FilterSpec(
        resource="peer",
        fields={
            "id": _text(name),
            "created_at": _datetime(created_at),
            "workspace_id": _text(workspace),
        },
        metadata=metadata,
    )


PEER_FILTERS = FilterSpec(
    resource="peer",
    fields={
        "id": _text(Peer.name),
        "created_at": _datetime(Peer.created_at),
        "workspace_id": _text(Peer.workspace_name),
    },
    metadata=Peer.metadata_,
)

SESSION_FILTERS = FilterSpec(
    resource="session",
    fields={
        "id": _text(Session.name),
        "created_at": _datetime(Session.created_at),
        "is_active": FilterField(Session.is_active, "bool"),
        "workspace_id": _text(Session.workspace_name),
    },
    metadata=Session.metadata_,
)

MESSAGE_FILTERS = FilterSpec(
    resource="message",
    fields={
        "workspace_id": _text(Message.workspace_name),
        "session_id": _text(Message.session_name),
        "peer_id": _text(Message.peer_name),
        "token_count": FilterField(Message.token_count, "int"),
        "created_at": _datetime(Message.created_at),
    },
    metadata=Message.metadata_,
)

CONCLUSION_FILTERS = FilterSpec(
    resource="conclusion",
    fields={
        "id": _text(Conclusion.id),
        "content": _text(Conclusion.content),
        "level": FilterField(Conclusion.level, "enum", CONCLUSION_LEVELS),
        "observer_id": _text(Conclusion.observer),
        "observer": _text(Conclusion.observer),
        "observed_id": _text(Conclusion.observed),
        "observed": _text(Conclusion.observed),
        "session_id": _text(Conclusion.session_name),
        "session_name": _text(Conclusion.session_name),
        "workspace_id": _text(Conclusion.workspace_name),
        "workspace_name": _text(Conclusion.workspace_name),
        "created_at": _datetime(Conclusion.created_at),
        "times_derived": FilterField(Conclusion.times_derived, "int"),
        "source_ids": FilterField(Conclusion.source_ids, "array"),
        # replaced by a newer fact (left out of every default read; this filter shows them)
        "superseded": FilterField(Conclusion.superseded_by.is_not(None), "bool"),
    },
    # Conclusions expose their internal metadata (message_ids, message_created_at, premises...).
    metadata=Conclusion.internal_metadata,
    unfilterable=frozenset(
        {"embedding", "premises", "source_message_ids", "deleted_at", "superseded_at"}
    ),
)

_ALL_SPECS = (WORKSPACE_FILTERS, PEER_FILTERS, SESSION_FILTERS, MESSAGE_FILTERS, CONCLUSION_FILTERS)
