"""Budget arithmetic for session context. Pure functions, no I/O.

A context of ``limit`` tokens gives the summary at most 40% (``SUMMARY_SHARE``); the rest goes
to the newest messages that fit, taken newest-first until the next one would overflow.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

SUMMARY_SHARE = 0.4
MAX_CONTEXT_TOKENS = 100_000

SummaryKind = Literal["short", "long"]


def summary_budget(limit: int) -> int:
    return int(limit * SUMMARY_SHARE) if limit > 0 else 0


def choose_summary(
    limit: int, short_tokens: int | None, long_tokens: int | None
) -> SummaryKind | None:
    """Which stored summary to use (``None`` = absent): the long one if it fits within the
    summary share and is longer than the short one, else the short one if it fits."""
    cap = summary_budget(limit)
    short = short_tokens if short_tokens is not None else 0
    if long_tokens is not None and long_tokens <= cap and long_tokens > short:
        return "long"
    if short_tokens is not None and 0 < short_tokens <= cap:
        return "short"
    return None


def newest_that_fit(token_counts_newest_first: Iterable[int], budget: int) -> int:
    """How many of the newest messages fit in ``budget``: stop at the first that overflows."""
    used = taken = 0
    for count in token_counts_newest_first:
        if used + count > budget:
            break
        used += count
        taken += 1
    return taken
