"""Short, always-encodable renderings of client input for error bodies.

An error body may quote what the client sent, but never all of it (a 10 MB field must not
come back as a 10 MB 422) and never in a form that cannot be encoded: a lone surrogate
(``"\\ud800"``, a valid JSON escape but not Unicode) is replaced by U+FFFD.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

EXCERPT_CHARS = 200  # at most this many characters of any one input value are echoed
MAX_ERRORS = 50  # validation errors listed in one 422 body; the rest are counted

_SURROGATES = re.compile("[\ud800-\udfff]")
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=repr
)


def clean(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (so it encodes as UTF-8)."""
    return _SURROGATES.sub("\ufffd", text)


def clip(text: str, limit: int = EXCERPT_CHARS) -> str:
    """At most ``limit`` characters of ``text`` (cleaned), marked when cut."""
    if len(text) <= limit:
        return clean(text)
    return f"{clean(text[:limit])}…[truncated, {len(text)} chars in all]"


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> Any:
    """A JSON-encodable stand-in for ``value``: small values unchanged (cleaned), larger
    ones as the first ``limit`` characters of their JSON text. Never walks more of a large
    object than it shows."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return clip(value, limit)
    if isinstance(value, bytes | bytearray):
        return clip(bytes(value[: limit * 4]).decode("utf-8", "replace"), limit)
    text = _json_prefix(value, limit + 1)
    if text is None or len(text) > limit:
        return clip(text if text is not None else _repr(value)[: limit + 1], limit)
    try:
        return json.loads(clean(text))
    except ValueError:
        return clip(text, limit)


def _json_prefix(value: Any, limit: int) -> str | None:
    """The first ``limit`` characters (or so) of ``value`` as JSON; ``None`` if unrenderable."""
    chunks: list[str] = []
    size = 0
    try:
        for chunk in _ENCODER.iterencode(value):  # lazy: stops as soon as we have enough
            chunks.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    except (ValueError, TypeError, RecursionError):
        return None
    return "".join(chunks)


def _repr(value: Any) -> str:
    try:
        return repr(value)
    except RecursionError:  # nested deeper than repr goes
        return f"<{type(value).__name__}>"


def clean_json(value: Any, limit: int = EXCERPT_CHARS) -> Any:
    """``value`` with every string cleaned and clipped (for error ``loc``/``ctx`` parts)."""
    if isinstance(value, str):
        return clip(value, limit)
    if isinstance(value, Mapping):
        return {clip(str(k), limit): excerpt(v, limit) for k, v in list(value.items())[:20]}
    if isinstance(value, list | tuple):
        return [excerpt(v, limit) for v in value[:20]]
    return excerpt(value, limit)


def validation_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic/FastAPI error dicts → the documented ``ValidationError`` objects (``type``,
    ``loc``, ``msg``, ``input``, ``ctx``), each input an excerpt, at most :data:`MAX_ERRORS`."""
    items = list(errors)
    out: list[dict[str, Any]] = []
    for error in items[:MAX_ERRORS]:
        item: dict[str, Any] = {
            "type": clip(str(error.get("type", "value_error"))),
            "loc": [part if isinstance(part, int) else clip(str(part)) for part in error["loc"]],
            "msg": clip(str(error.get("msg", "")), 1000),
        }
        if "input" in error:
            item["input"] = excerpt(error["input"])
        if isinstance(error.get("ctx"), Mapping):
            item["ctx"] = clean_json({k: _ctx_value(v) for k, v in error["ctx"].items()})
        out.append(item)
    if len(items) > MAX_ERRORS:
        out.append(
            {
                "type": "too_many_errors",
                "loc": ["body"],
                "msg": f"{len(items) - MAX_ERRORS} more validation error(s) not shown",
            }
        )
    return out


def _ctx_value(value: Any) -> Any:
    """Context values as JSON: exceptions (``ValueError`` from a validator) as their text."""
    if isinstance(value, BaseException):
        return str(value)
    return value
