"""Operand checking for the filter language: JSON values → safe, typed SQL operands.

Everything here either returns a value Postgres will accept for the target type or raises
:class:`InvalidFilter` (HTTP 422). Nothing that reaches SQL may make Postgres raise.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Numeric, Text, and_, case, cast, func, literal
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import QueryableAttribute

from ..errors import Invalid

# A filterable column: a Core column expression or an ORM attribute such as ``Peer.name``.
FilterColumn = ColumnElement[Any] | QueryableAttribute[Any]

# Text Postgres can cast to NUMERIC without error (bounded so the cast can never overflow).
NUMERIC_PATTERN = r"^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]{1,3})?$"
_NUMERIC_RE = re.compile(NUMERIC_PATTERN)
_MAX_NUMERIC_TEXT = 200
_MAX_EXPONENT = 1000
_INT64 = 2**63


COMPARISONS = frozenset({"gt", "gte", "lt", "lte"})
SUBSTRING = frozenset({"contains", "icontains"})
OPERATORS = COMPARISONS | SUBSTRING | {"ne", "in"}
COMPARE: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


class InvalidFilter(Invalid):
    """A filter the server refuses (422 with a string detail)."""


def is_wildcard(value: object) -> bool:
    return isinstance(value, str) and value == "*"


def describe(value: object) -> str:
    """A short rendering of a user value for error messages."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def check_text(value: str, where: str) -> str:
    """Reject strings Postgres cannot store (NUL bytes, unpaired surrogates)."""
    if "\x00" in value:
        raise InvalidFilter(f"Filter value for '{where}' must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidFilter(f"Filter value for '{where}' is not valid Unicode text") from None
    return value


def check_json(value: object, where: str) -> None:
    """Validate an arbitrary JSON value before it is sent to Postgres as JSONB (iteratively)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            check_text(item, where)
        elif isinstance(item, float) and not math.isfinite(item):
            raise InvalidFilter(f"Filter value for '{where}' must be a finite number")
        elif isinstance(item, dict):
            for key, sub in item.items():
                if not isinstance(key, str):
                    raise InvalidFilter(f"Filter value for '{where}' has a non-string key")
                check_text(key, where)
                stack.append(sub)
        elif isinstance(item, list):
            stack.extend(item)
        elif item is not None and not isinstance(item, bool | int | float):
            raise InvalidFilter(f"Filter value for '{where}' is not a JSON value")


def json_literal(value: object) -> ColumnElement[Any]:
    """A JSONB operand (sent as text and cast, so it renders and binds the same way)."""
    return cast(literal(json.dumps(value, ensure_ascii=False), Text()), JSONB)


def is_numeric_text(value: str) -> bool:
    return len(value) <= _MAX_NUMERIC_TEXT and _NUMERIC_RE.fullmatch(value) is not None


def as_number(value: object) -> Decimal | None:
    """A JSON number or numeric string as a Decimal; None if it is neither (booleans excluded)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        number = Decimal(repr(value))
    elif isinstance(value, str) and is_numeric_text(value):
        try:
            number = Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern only admits valid decimals
            return None
    else:
        return None
    if number and abs(number.adjusted()) > _MAX_EXPONENT:
        return None
    return number


def number_value(value: object, where: str) -> ColumnElement[Any]:
    """A numeric operand: a number or a numeric string (exact, including big integers)."""
    number = as_number(value)
    if number is None:
        raise InvalidFilter(
            f"Invalid numeric value for '{where}': {describe(value)} (expected a number)"
        )
    return numeric_literal(number)


def numeric_literal(number: Decimal) -> ColumnElement[Any]:
    if number == number.to_integral_value() and -_INT64 <= number < _INT64:
        return literal(int(number), BigInteger())
    return literal(number, Numeric())


def guarded_numeric(text: ColumnElement[Any]) -> ColumnElement[Any]:
    """``text`` cast to NUMERIC when it looks like a number, else NULL (never a cast error)."""
    looks_numeric = and_(func.length(text) <= _MAX_NUMERIC_TEXT, text.op("~")(NUMERIC_PATTERN))
    return case((looks_numeric, cast(text, Numeric())), else_=None)


def text_value(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidFilter(f"Invalid value for '{where}': {describe(value)} (expected a string)")
    return check_text(value, where)


def bool_value(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidFilter(
            f"Invalid value for '{where}': {describe(value)} (expected true or false)"
        )
    return value


def enum_value(value: object, where: str, choices: frozenset[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(sorted(choices))
        raise InvalidFilter(
            f"Invalid value for '{where}': {describe(value)} (expected one of: {allowed})"
        )
    return value


def datetime_value(value: object, where: str) -> datetime:
    """ISO-8601 with offset or ``Z``; naive date-times are UTC, a bare date is midnight UTC."""
    if isinstance(value, str) and "\x00" not in value:
        try:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    raise InvalidFilter(
        f"Invalid datetime value for '{where}': {describe(value)} "
        "(expected ISO-8601, e.g. 2024-01-01 or 2024-01-01T12:00:00Z)"
    )


def like_pattern(value: object, where: str) -> str:
    """``%value%`` with the LIKE metacharacters of ``value`` escaped (escape char: backslash)."""
    text = text_value(value, where)
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
