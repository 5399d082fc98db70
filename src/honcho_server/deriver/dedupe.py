"""Exact de-duplication of derived conclusions (BEHAVIOUR §14.6, rules 1 and 2). Pure.

Two conclusions are the same when their content, trimmed and lower-cased, their level and —
for ``explicit`` ones only — their session are equal. An explicit conclusion without a session
is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Key = tuple[str, str, str | None]


@dataclass(frozen=True)
class Candidate:
    """A conclusion the deriver wants to store in one collection."""

    level: str
    content: str
    session: str | None
    premises: tuple[str, ...] = ()
    source_message_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Stored:
    """A live stored conclusion of the same collection."""

    id: str
    level: str
    content: str
    session: str | None


@dataclass
class Plan:
    """What to do with a batch: insert the new ones, reinforce the stored duplicates."""

    insert: list[Candidate] = field(default_factory=list)
    reinforce: list[str] = field(default_factory=list)  # stored ids, once each


def normalise(content: str) -> str:
    return content.strip().lower()


def key(level: str, content: str, session: str | None) -> Key:
    return (normalise(content), level, session if level == "explicit" else None)


def plan(candidates: Iterable[Candidate], stored: Sequence[Stored]) -> Plan:
    """Collapse duplicates inside the batch, then split it against the stored rows."""
    existing = {key(s.level, s.content, s.session): s.id for s in stored}
    seen: set[Key] = set()
    out = Plan()
    for c in candidates:
        if not c.content.strip() or (c.level == "explicit" and c.session is None):
            continue
        k = key(c.level, c.content, c.session)
        if k in seen:
            continue
        seen.add(k)
        if k in existing:
            out.reinforce.append(existing[k])
        else:
            out.insert.append(c)
    return out
