"""Fusing ranked candidates into one ranking (pure, no I/O).

* :func:`reciprocal_rank_fusion` merges ranked lists by rank alone: used when there are no
  comparable scores (keyword-only search).
* :func:`hybrid_rank` scores each candidate from its cosine similarity, the strength of its
  keyword evidence and a few priors (who wrote it, how long it is, how new it is): used when
  the query has a vector.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Literal, TypeVar

Tense = Literal["current", "present", "past"] | None

K = TypeVar("K", bound=Hashable)

RRF_K = 60


def reciprocal_rank_fusion(
    lists: Iterable[Sequence[K]], *, k: int = RRF_K, limit: int | None = None
) -> list[K]:
    """Score each item Σ 1/(k + rank) over the lists it appears in (rank 1-based), best first.

    An item repeated within one list counts at its first (best) rank only. Ties keep the order
    in which items were first seen, lists taken in the order given, so the caller decides which
    source wins a tie. ``limit`` truncates the result.
    """
    if k < 0:
        raise ValueError("k must be non-negative")
    scores: dict[K, float] = {}
    for ranked in lists:
        seen: set[K] = set()
        for rank, item in enumerate(ranked, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    # sorted() is stable and dicts keep insertion order: equal scores stay first-seen first.
    fused = sorted(scores, key=lambda item: -scores[item])
    return fused if limit is None else fused[: max(limit, 0)]


# --- hybrid ranking: one score per candidate from every signal --------------------------------


@dataclass(slots=True)  # not frozen (a frozen __init__ is 3x slower): built per candidate
class Evidence(Generic[K]):
    """What is known about one candidate when the lists are fused."""

    key: K
    similarity: float | None  # cosine similarity to the query; None: not embedded
    keyword: float  # strength of the keyword evidence, 0 (none) to 1 (unique exact match)
    created_at: datetime
    words: int  # how many words the text has (at least: BRIEF_WORDS or more count the same)
    by_named_peer: bool = False  # written by a peer the query names
    author: str | None = None  # recency compares a candidate with its author's others


@dataclass(frozen=True)
class Weights:
    """How much each signal moves a candidate, in units of cosine similarity.

    Chosen on ``bench/retrieval.py`` and kept round: cosine similarities of related texts
    differ by a few hundredths, so each prior is a tie-breaker, not a veto.
    """

    keyword: float = 0.15  # a unique all-words match; rarer words count less than that
    named_author: float = 0.2  # the query names the peer who wrote it
    brevity: float = 0.12  # full penalty for a text of one word, none from BRIEF_WORDS up
    recency: float = 0.02  # the newest candidate over the oldest (by default)
    recency_current: float = 0.2  # ... when the query asks about now ("currently", ...)
    recency_present: float = 0.05  # ... when its verbs are in the present tense
    recency_past: float = -0.03  # ... when it asks about before ("used to", ...)


BRIEF_WORDS = 8
_WORDS = re.compile(r"\w+")
# BRIEF_WORDS words or more: possessive, so a word is never split to make up the count
_ENOUGH_WORDS = re.compile(rf"\W*+(?:\w++\W*+){{{BRIEF_WORDS}}}")
_WORDS_READ = 400  # the words of a longer text are counted in its start


def words_for_brevity(text: str) -> int:
    r"""How many words (``\w+``) ``text`` starts with, up to :data:`BRIEF_WORDS` (more do not
    change its score): one regex match for a text that has that many, so a search's 30-70
    candidates are not each split into a list of words (6% of a search's CPU)."""
    start = text[:_WORDS_READ]
    if _ENOUGH_WORDS.match(start):
        return BRIEF_WORDS
    return len(_WORDS.findall(start))


DEFAULT_WEIGHTS = Weights()
# Conclusions are short statements of fact by construction, about one peer: no brevity or
# author prior, and no keyword list (similarity and recency only). Old and new facts are
# worded alike ("lives in Porto" / "moved to Berlin"), so recency counts more for "now"
# questions than among messages (superseded conclusions are out of the way altogether).
CONCLUSION_WEIGHTS = Weights(
    keyword=0.0, named_author=0.0, brevity=0.0, recency_current=0.4, recency_present=0.1
)


def keyword_strength(matches: int) -> float:
    """Evidence of a keyword match shared by ``matches`` candidates of the scope: 1 for a
    unique match, halving roughly every time the match is shared by e.ⁿ times more."""
    return 1.0 / (1.0 + math.log(max(matches, 1)))


def hybrid_rank(
    items: Sequence[Evidence[K]],
    *,
    tense: Tense = None,
    weights: Weights | None = None,
    limit: int | None = None,
) -> list[K]:
    """Score-normalised fusion of the semantic and keyword evidence plus priors, best first.

    score = similarity                                   (the embedder's judgement)
          + keyword   x keyword strength                 (only strong, rare or exact matches)
          + named_author if the query names the author   (questions about a person)
          - brevity   x (1 - words / BRIEF_WORDS)⁺       (one-line small talk says little)
          + recency   x how new, 0 (oldest) .. 1 (newest of its author's candidates)

    Similarity is the primary signal, so the ranking cannot fall far from plain cosine:
    weak keyword evidence (a common word, a partial match) moves a candidate by less than
    the gap between clearly different texts, while exact or rare matches (names, identifiers)
    can lift it. A candidate that is not embedded yet is scored as if its similarity were the
    median of the others' (its keyword evidence then decides). Recency is relative to the
    other candidates *by the same author*: a newer statement of one person wins over their
    older one, but one person's recent message is no better than another's older one. The
    recency weight depends on
    the query's tense (see :class:`~.search_query.SearchQuery`): a slight preference for
    newer candidates by default, a strong one for "now" questions, a slight preference for
    older ones for "before" questions. Ties keep the order given.
    """
    if not items:
        return []
    weights = weights or DEFAULT_WEIGHTS
    known = sorted(i.similarity for i in items if i.similarity is not None)
    fallback = known[len(known) // 2] if known else 0.0
    times = [i.created_at.timestamp() for i in items]
    by_author: dict[str | None, list[float]] = {}
    for item, t in zip(items, times, strict=True):
        by_author.setdefault(item.author, []).append(t)
    bounds = {a: (min(ts), (max(ts) - min(ts)) or 1.0) for a, ts in by_author.items()}
    recency = {
        "current": weights.recency_current,
        "present": weights.recency_present,
        "past": weights.recency_past,
        None: weights.recency,
    }[tense]

    def score(n: int, item: Evidence[K]) -> float:
        base = item.similarity if item.similarity is not None else fallback
        oldest, span = bounds[item.author]
        brief = max(0.0, 1.0 - item.words / BRIEF_WORDS)
        return (
            base
            + weights.keyword * item.keyword
            + (weights.named_author if item.by_named_peer else 0.0)
            - weights.brevity * brief
            + recency * (times[n] - oldest) / span
        )

    scores = [score(n, item) for n, item in enumerate(items)]
    order = sorted(range(len(items)), key=lambda n: -scores[n])
    ranked = [items[n].key for n in order]
    return ranked if limit is None else ranked[: max(limit, 0)]
