"""Shared field types: metadata and configuration objects, names, NUL stripping.

Every ``metadata`` and ``configuration`` object a client sends is checked once, here, before
anything else reads it (:func:`check_json_object`): at most :data:`JSON_OBJECT_MAX_BYTES` as
compact UTF-8 JSON, nested at most :data:`JSON_MAX_NESTING` levels (objects and arrays), finite
numbers, and Unicode text only (no lone surrogates). The walk is iterative and stops at the
first problem, so a huge or deep object costs no more than the limit.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from ..ids import NAME_MAX_LENGTH, NAME_PATTERN

METADATA_MAX_KEYS = 100
METADATA_MAX_DEPTH = 5
# 64 KiB of JSON per metadata or configuration object: generous for labels and ids (upstream
# has no limit; agents store a few hundred bytes), small enough that a 100-message batch with
# full metadata stays a few MiB.
JSON_OBJECT_MAX_BYTES = 64 * 1024
# Objects and arrays together; far above any real use, low enough that nothing recursive that
# later reads the object (NUL stripping, JSON encoding, Postgres) can run out of stack.
JSON_MAX_NESTING = 32

_SCALAR_SIZES = {True: 4, False: 5, None: 4}


def strip_nul(value: Any) -> Any:
    """Remove NUL characters from every string in ``value`` (keys and values, recursively)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {strip_nul(k): strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_nul(v) for v in value]
    return value


def check_json_object(value: Any, what: str) -> Any:
    """Raise ``ValueError`` if the JSON object ``value`` breaks a limit (see the module doc);
    anything that is not a dict is returned for the field's own type check."""
    if not isinstance(value, dict):
        return value
    size = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > JSON_MAX_NESTING:
                raise ValueError(f"{what} may be nested at most {JSON_MAX_NESTING} levels deep")
            size += 1 + max(len(item), 1)  # brackets and separators
            children = item.items() if isinstance(item, dict) else enumerate(item)
            for key, sub in children:
                if isinstance(key, str):
                    size += _text_size(key, what) + 1
                stack.append((sub, depth + 1))
        elif isinstance(item, str):
            size += _text_size(item, what)
        elif isinstance(item, bool) or item is None:
            size += _SCALAR_SIZES[item]
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{what} numbers must be finite (no NaN or Infinity)")
        else:
            size += len(repr(item))
        if size > JSON_OBJECT_MAX_BYTES:
            raise ValueError(
                f"{what} may be at most {JSON_OBJECT_MAX_BYTES} bytes as JSON, this one is larger"
            )
    return value


def _text_size(text: str, what: str) -> int:
    """Bytes of ``text`` as a JSON string (UTF-8); rejects lone surrogates."""
    if len(text) > JSON_OBJECT_MAX_BYTES:
        return len(text)  # at least one byte a character: over the limit anyway
    try:
        return len(json.dumps(text, ensure_ascii=False).encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError(f"{what} must be valid Unicode text (it has a lone surrogate)") from None


def _metadata_limits(value: Any) -> Any:
    return check_json_object(value, "metadata")


def configuration_limits(value: Any) -> Any:
    return check_json_object(value, "configuration")


def _depth(value: dict[str, Any]) -> int:
    nested = [_depth(v) for v in value.values() if isinstance(v, dict)]
    return 1 + (max(nested) if nested else 0)


def _check_metadata(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > METADATA_MAX_KEYS:
        raise ValueError(f"metadata may have at most {METADATA_MAX_KEYS} top-level keys")
    if _depth(value) > METADATA_MAX_DEPTH:
        raise ValueError(f"metadata may be nested at most {METADATA_MAX_DEPTH} levels deep")
    cleaned: dict[str, Any] = strip_nul(value)
    return cleaned


Metadata = Annotated[
    dict[str, Any], BeforeValidator(_metadata_limits), AfterValidator(_check_metadata)
]
Configuration = Annotated[dict[str, Any], BeforeValidator(configuration_limits)]
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN)]
Filters = dict[str, Any]
