"""The derive job's decisions, as a pure function (no database, no model, no clock).

:func:`plan_collection` turns the model's answer for one sender (the :class:`Candidate`
conclusions and their embeddings) and what was read about one observer's collection
(:class:`Collection`) into a :class:`CollectionPlan`: the rows to insert, the stored rows to
reinforce, replace (paraphrases, BEHAVIOUR §14.6 rule 3) or mark superseded. The derive job
(``worker/kinds/derive.py``) reads, asks, calls this, and stores the plan in one unit of work.

Candidates are taken in order, as if each were written before the next is looked at: a
later paraphrase is compared with the stored rows that are still live *and* the rows this
plan already inserted (cosine distance computed here, as pgvector's ``<=>`` does), and a
deduction may cite a conclusion inserted earlier in the batch.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from ..db.repositories.conclusion_rows import Paraphrase, PremiseMatch
from . import dedupe
from .prompts import Extraction

Tokens = Callable[[str], set[str]]


@dataclass(frozen=True)
class Collection:
    """What the store step read about one (observer, sender) collection."""

    observer: str
    stored: Sequence[dedupe.Stored] = ()  # live rows with a candidate's exact key
    premises: Sequence[PremiseMatch] = ()  # live rows cited or named as outdated, oldest first
    near: Mapping[str, Sequence[Paraphrase]] = field(default_factory=dict)
    """By a candidate's trimmed text: the current rows of its level (and session, for
    explicit ones) within the semantic distance of its embedding, nearest first."""


@dataclass(frozen=True)
class NewConclusion:
    id: str
    session: str | None
    level: str
    content: str
    premises: tuple[str, ...]
    source_message_ids: tuple[str, ...]
    source_ids: tuple[str, ...]
    embedding: list[float] | None
    times_derived: int = 1


@dataclass
class CollectionPlan:
    """The writes for one collection, in the order the store step applies them:
    ``reinforce`` (id → times to add), ``repoint`` (every conclusion citing the first id
    cites the second instead), ``insert``, ``delete`` (soft), ``supersede`` (outdated,
    current)."""

    observer: str
    reinforce: Counter[str] = field(default_factory=Counter)
    repoint: list[tuple[str, str]] = field(default_factory=list)
    insert: list[NewConclusion] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    supersede: list[tuple[str, str]] = field(default_factory=list)

    @property
    def carded(self) -> bool:
        """Whether a new explicit conclusion is inserted (the observer's card may change)."""
        return any(r.level == "explicit" for r in self.insert)

    @property
    def unembedded(self) -> list[str]:
        """Ids of inserted rows without an embedding (they need an embedding job)."""
        return [r.id for r in self.insert if r.embedding is None]


def candidates(
    session: str, source_message_ids: tuple[str, ...], extraction: Extraction
) -> list[dedupe.Candidate]:
    """The model's answer as conclusions to store: explicit facts, then deductions."""
    explicit = [
        dedupe.Candidate("explicit", fact, session, source_message_ids=source_message_ids)
        for fact in extraction.explicit
    ]
    deductive = [
        dedupe.Candidate(
            "deductive",
            d.conclusion,
            session,
            premises=tuple(d.premises),
            source_message_ids=source_message_ids,
        )
        for d in extraction.deductive
    ]
    return explicit + deductive


def cosine_distance(a: Sequence[float], b: Sequence[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    if norm == 0:
        return math.nan  # pgvector: NaN, never within a cut-off
    return 1 - sum(x * y for x, y in zip(a, b, strict=True)) / norm


def plan_collection(
    found: Collection,
    batch: Sequence[dedupe.Candidate],
    vectors: Mapping[str, list[float]],
    updates: Sequence[tuple[str, str]],
    *,
    tokens: Tokens,
    new_id: Callable[[], str],
) -> CollectionPlan:
    """The writes for one collection (see the module docstring). ``updates`` are the
    model's (outdated, current) texts; ``tokens`` splits a text for ``dedupe.new_text_wins``."""
    return _Planner(found, vectors, tokens, new_id).run(batch, updates)


class _Planner:
    def __init__(
        self,
        found: Collection,
        vectors: Mapping[str, list[float]],
        tokens: Tokens,
        new_id: Callable[[], str],
    ) -> None:
        self.found, self.vectors, self.tokens, self.new_id = found, vectors, tokens, new_id
        self.out = CollectionPlan(found.observer)
        self.cited: dict[str, str] = {}  # premise key of a text -> the id citing it gets

    def run(
        self, batch: Sequence[dedupe.Candidate], updates: Sequence[tuple[str, str]]
    ) -> CollectionPlan:
        exact = dedupe.plan(batch, self.found.stored)
        wanted = {dedupe.premise_key(p) for c in batch for p in c.premises}
        premises = [p for p in self.found.premises if p.key in wanted]
        for p in sorted(premises, key=lambda p: p.level != "explicit"):
            self.cited.setdefault(p.key, p.id)
        self.out.reinforce.update(exact.reinforce)
        for c in exact.insert:
            self._add(c)
        self.out.supersede = self._superseded(updates)
        return self.out

    def _add(self, c: dedupe.Candidate) -> None:
        content = c.content.strip()
        vector = self.vectors.get(content)
        row = NewConclusion(
            id=self.new_id(),
            session=c.session,
            level=c.level,
            content=content,
            premises=tuple(c.premises),
            source_message_ids=tuple(c.source_message_ids),
            source_ids=self._sources(c),
            embedding=vector,
        )
        near = self._nearest(c, vector) if vector is not None else None
        if near is not None:
            if not dedupe.new_text_wins(self.tokens(content), self.tokens(near.content)):
                self._reinforce(near.id)
                self.cited[dedupe.premise_key(content)] = near.id
                return
            self.out.delete.append(near.id)
            self._repoint(near.id, row.id)
            row = replace(row, times_derived=near.times_derived + 1)
        self.out.insert.append(row)
        self.cited[dedupe.premise_key(content)] = row.id

    def _sources(self, c: dedupe.Candidate) -> tuple[str, ...]:
        """The ids of a deduction's premises: conclusions (stored, or planned earlier in this
        batch) whose text is a premise; premises matching none are left out."""
        keys = (dedupe.premise_key(p) for p in c.premises)
        return tuple(dict.fromkeys(self.cited[k] for k in keys if k in self.cited))

    def _nearest(self, c: dedupe.Candidate, vector: list[float]) -> Paraphrase | None:
        """The nearest live conclusion within the semantic distance: a stored one still live,
        or one this plan inserted (same level, and session for explicit ones)."""
        gone = set(self.out.delete)
        pool = [
            replace(n, times_derived=n.times_derived + self.out.reinforce[n.id])
            for n in self.found.near.get(c.content.strip(), ())
            if n.id not in gone
        ]
        for r in self.out.insert:
            same = r.level == c.level and (c.level != "explicit" or r.session == c.session)
            if same and r.embedding is not None and r.id not in gone:
                pool.append(
                    Paraphrase(
                        r.id, r.content, r.times_derived, cosine_distance(vector, r.embedding)
                    )
                )
        pool = [n for n in pool if n.distance <= dedupe.SEMANTIC_MAX_DISTANCE]
        return min(pool, key=lambda n: (n.distance, n.id), default=None)

    def _reinforce(self, conclusion_id: str) -> None:
        for i, r in enumerate(self.out.insert):
            if r.id == conclusion_id:
                self.out.insert[i] = replace(r, times_derived=r.times_derived + 1)
                return
        self.out.reinforce[conclusion_id] += 1

    def _repoint(self, old: str, new: str) -> None:
        """Rows citing ``old`` cite ``new`` instead: stored ones in the store step (in order,
        before the planned rows are inserted), planned ones here (each id once, in the order
        first cited)."""
        self.out.repoint.append((old, new))
        for i, r in enumerate(self.out.insert):
            if old in r.source_ids:
                ids = tuple(dict.fromkeys(new if s == old else s for s in r.source_ids))
                self.out.insert[i] = replace(r, source_ids=ids)

    def _superseded(self, updates: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """(outdated, current) ids: a known explicit conclusion the model says a new fact
        replaces, and the conclusion that fact became (texts matched like premises). An
        update naming an unknown fact, or a current fact not stored in this batch, is
        ignored."""
        keyed = [(dedupe.premise_key(old), dedupe.premise_key(cur)) for old, cur in updates]
        keyed = [(old, cur) for old, cur in keyed if old and cur in self.cited]
        gone = set(self.out.delete)
        outdated: dict[str, str] = {}
        live = [(p.id, p.level, p.key) for p in self.found.premises if p.id not in gone]
        live += [(r.id, r.level, dedupe.premise_key(r.content)) for r in self.out.insert]
        for conclusion_id, level, key in live:
            if level == "explicit" and conclusion_id not in gone:
                outdated[key] = conclusion_id
        return [
            (outdated[old], self.cited[cur])
            for old, cur in keyed
            if old in outdated and outdated[old] != self.cited[cur]
        ]
