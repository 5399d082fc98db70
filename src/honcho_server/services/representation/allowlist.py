"""The session allowlist accepted by representation (and chat) ``filters``."""

from __future__ import annotations

from typing import Any

from ...errors import Invalid
from ...ids import is_valid_name

MAX_ALLOWLIST = 1000


def parse_session_allowlist(
    filters: dict[str, Any] | None, session_id: str | None
) -> list[str] | None:
    """``{"session_id": id | [ids] | {"in": [ids]}}`` → the allowed sessions (``None``: no limit).

    ``session_id`` (from the body) narrows recall to that one session and must be allowed.
    """
    if not filters:
        return [session_id] if session_id is not None else None
    if set(filters) != {"session_id"}:
        raise Invalid("filters here accept only the key 'session_id'")
    value = filters["session_id"]
    if isinstance(value, dict) and set(value) == {"in"}:
        value = value["in"]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(
        isinstance(v, str) and is_valid_name(v) for v in value
    ):
        raise Invalid("filters.session_id must be a session id, a list of ids, or {'in': [ids]}")
    allowed = list(dict.fromkeys(value))
    if len(allowed) > MAX_ALLOWLIST:
        raise Invalid(f"filters.session_id may list at most {MAX_ALLOWLIST} sessions")
    if session_id is not None:
        if session_id not in allowed:
            raise Invalid("session_id must be one of the sessions allowed by filters")
        return [session_id]
    return allowed
