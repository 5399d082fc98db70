"""Pure budget arithmetic of session context."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from honcho_server.db.repositories.context import FIRST_SCAN, first_scan
from honcho_server.services.context.budget import choose_summary, newest_that_fit, summary_budget


def test_summary_share_is_forty_percent() -> None:
    assert summary_budget(1000) == 400
    assert summary_budget(1001) == 400
    assert summary_budget(0) == 0 and summary_budget(-5) == 0


def test_choose_summary_prefers_a_longer_long_summary_that_fits() -> None:
    assert choose_summary(1000, short_tokens=100, long_tokens=300) == "long"
    assert choose_summary(1000, short_tokens=100, long_tokens=401) == "short"  # long over 40%
    assert choose_summary(1000, short_tokens=300, long_tokens=200) == "short"  # long not longer
    assert choose_summary(1000, short_tokens=None, long_tokens=50) == "long"
    assert choose_summary(1000, short_tokens=401, long_tokens=None) is None
    assert choose_summary(1000, short_tokens=None, long_tokens=None) is None
    assert choose_summary(1000, short_tokens=0, long_tokens=None) is None


def test_newest_that_fit_stops_at_first_overflow() -> None:
    assert newest_that_fit([10, 20, 30], 30) == 2
    assert newest_that_fit([10, 20, 30], 29) == 1
    assert newest_that_fit([50, 1, 1], 49) == 0  # newest alone overflows: nothing
    assert newest_that_fit([0, 0, 5], 0) == 2
    assert newest_that_fit([], 100) == 0


@given(
    counts=st.lists(st.integers(min_value=0, max_value=500), max_size=60),
    budget=st.integers(min_value=-10, max_value=5000),
)
def test_newest_that_fit_properties(counts: list[int], budget: int) -> None:
    taken = newest_that_fit(counts, budget)
    assert 0 <= taken <= len(counts)
    assert sum(counts[:taken]) <= max(budget, 0) or taken == 0
    if taken < len(counts):  # the next one would not have fit
        assert sum(counts[: taken + 1]) > budget


@given(
    limit=st.integers(min_value=0, max_value=100_000),
    short=st.one_of(st.none(), st.integers(min_value=0, max_value=60_000)),
    long=st.one_of(st.none(), st.integers(min_value=0, max_value=60_000)),
)
def test_chosen_summary_never_exceeds_its_share(
    limit: int, short: int | None, long: int | None
) -> None:
    kind = choose_summary(limit, short, long)
    if kind == "long":
        assert long is not None and long <= summary_budget(limit)
    if kind == "short":
        assert short is not None and 0 < short <= summary_budget(limit)


def test_first_window_is_sized_by_the_budget() -> None:
    """A large budget starts with a window that holds it at 16 tokens a message (one pass for
    a whole-session context of a few thousand messages); small ones with 256."""
    assert first_scan(2_000) == FIRST_SCAN == 256
    assert first_scan(1) == first_scan(4_096) == 256
    assert first_scan(100_000) == 6_250
