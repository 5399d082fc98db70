"""De-duplication of derived conclusions (BEHAVIOUR §14.6). Pure.

Exact (rules 1 and 2): two conclusions are the same when their content, trimmed and
lower-cased, their level and — for ``explicit`` ones only — their session are equal. An
explicit conclusion without a session is refused.

Semantic (rule 3, applied by the derive job to what survives the exact step): a new
conclusion whose embedding lies within ``SEMANTIC_MAX_DISTANCE`` (cosine) of a live one of
the same collection, level and — for explicit — session is a paraphrase. Which text to keep
is decided by :func:`specificity`: each text scores its number of distinct tokens plus ten
per token the other text lacks, so the text carrying more information the other does not
wins; a tie keeps the new text (it is the fresher wording).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Key = tuple[str, str, str | None]

SEMANTIC_MAX_DISTANCE = 0.05


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


def premise_key(text: str) -> str:
    """How a premise the model cites is matched with a conclusion's text: lower-cased,
    whitespace collapsed, trailing punctuation (``.!?;:,``) dropped. The SQL twin is
    :func:`honcho_server.db.repositories.conclusions.premise_key`."""
    return " ".join(text.lower().split()).rstrip(".!?;:, ")


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


def specificity(tokens: set[str], other: set[str]) -> int:
    """``|T| + 10 * |T - T_other|``: how much a text says, weighted by what only it says."""
    return len(tokens) + 10 * len(tokens - other)


def new_text_wins(new_tokens: set[str], old_tokens: set[str]) -> bool:
    """Whether a paraphrase should replace the stored text (ties go to the new one)."""
    return specificity(new_tokens, old_tokens) >= specificity(old_tokens, new_tokens)
