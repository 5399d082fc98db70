"""Scopes: named groups of sessions that observe as one (not in the 3.0.12 OpenAPI).

Shapes follow the SDKs that call these routes (``ScopeResponse``, ``ScopeStatusResponse``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field

from ..ids import NAME_MAX_LENGTH, NAME_PATTERN
from .common import Metadata, Name

SCOPE_PREFIX = "scope."
"""Upstream stores a scope as a peer named ``scope.<id>``; scope ids leave room for it."""
SCOPE_NAME_MAX_LENGTH = NAME_MAX_LENGTH - len(SCOPE_PREFIX)
MAX_SESSIONS_PER_ADD = 100
_NAME_RE = re.compile(NAME_PATTERN)


def scope_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid scope id, or ``None`` when it is."""
    if not 1 <= len(name) <= SCOPE_NAME_MAX_LENGTH:
        return f"Scope ID must be between 1 and {SCOPE_NAME_MAX_LENGTH} characters"
    # Before the charset: the prefix's '.' would otherwise hide the real mistake.
    if name.startswith(SCOPE_PREFIX):
        return (
            f"Scope ID must not start with the reserved prefix '{SCOPE_PREFIX}' "
            "(scope IDs are unprefixed)"
        )
    if _NAME_RE.fullmatch(name) is None:
        return "Scope ID may only contain letters, numbers, underscores, and hyphens"
    return None


def _check_scope_name(value: Any) -> Any:
    if isinstance(value, str) and (problem := scope_name_problem(value)) is not None:
        raise ValueError(problem)
    return value


ScopeName = Annotated[
    str,
    BeforeValidator(_check_scope_name),
    Field(min_length=1, max_length=SCOPE_NAME_MAX_LENGTH, pattern=NAME_PATTERN),
]


class ScopeCreate(BaseModel):
    id: ScopeName
    metadata: Metadata | None = None


class Scope(BaseModel):
    id: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


class ScopeSessionsAdd(BaseModel):
    session_ids: list[Name] = Field(min_length=1, max_length=MAX_SESSIONS_PER_ADD)


BackfillState = Literal["pending", "completed", "failed"]


class ScopeBackfillJob(BaseModel):
    """One session's backfill; ``docs_copied`` is sent only once the backfill completed."""

    state: BackfillState
    updated_at: datetime
    docs_copied: int | None = None


class ScopeStatus(BaseModel):
    """Backfill state keyed by session id; only sessions that had a backfill enqueued."""

    backfill_status: dict[str, ScopeBackfillJob] = Field(default_factory=dict)
