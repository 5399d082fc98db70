"""Reciprocal-rank fusion: merge ranked candidate lists into one ranking (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import TypeVar

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
