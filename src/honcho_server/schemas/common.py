"""Shared field types: metadata objects, names, NUL stripping."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field

from ..ids import NAME_MAX_LENGTH, NAME_PATTERN

METADATA_MAX_KEYS = 100
METADATA_MAX_DEPTH = 5


def strip_nul(value: Any) -> Any:
    """Remove NUL characters from every string in ``value`` (keys and values, recursively)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {strip_nul(k): strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_nul(v) for v in value]
    return value


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


Metadata = Annotated[dict[str, Any], AfterValidator(_check_metadata)]
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN)]
Filters = dict[str, Any]
