"""Fusion: reciprocal-rank fusion and the hybrid score (pure)."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest

from honcho_server.services.ranking import (
    BRIEF_WORDS,
    RRF_K,
    Evidence,
    Weights,
    hybrid_rank,
    keyword_strength,
    reciprocal_rank_fusion,
    words_for_brevity,
)


def test_single_list_keeps_its_order() -> None:
    assert reciprocal_rank_fusion([[3, 1, 2]]) == [3, 1, 2]


def test_no_lists_or_empty_lists() -> None:
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([[], []]) == []
    assert reciprocal_rank_fusion([[], [7]]) == [7]


def test_items_in_several_lists_win() -> None:
    # b is second in both lists: 2/(60+2) beats a's and c's 1/(60+1).
    assert reciprocal_rank_fusion([["a", "b"], ["c", "b"]]) == ["b", "a", "c"]


def test_scores_are_sums_of_reciprocal_ranks() -> None:
    # z: 1/62 + 1/61 = .03253; x: 1/61 + 1/63 = .03227; y: 1/63 + 1/62 = .03200.
    fused = reciprocal_rank_fusion([["x", "z", "y"], ["z", "y", "x"]])
    assert fused == ["z", "x", "y"]
    assert 1 / (RRF_K + 1) + 1 / (RRF_K + 3) > 2 / (RRF_K + 2)


def test_ties_keep_first_seen_order_with_earlier_lists_first() -> None:
    assert reciprocal_rank_fusion([["a"], ["b"]]) == ["a", "b"]
    assert reciprocal_rank_fusion([["b"], ["a"]]) == ["b", "a"]
    assert reciprocal_rank_fusion([["a", "b"], ["c", "d"]]) == ["a", "c", "b", "d"]


def test_limit_truncates() -> None:
    lists = [[1, 2, 3, 4], [4, 5]]
    assert reciprocal_rank_fusion(lists, limit=2) == [4, 1]
    assert reciprocal_rank_fusion(lists, limit=0) == []
    assert reciprocal_rank_fusion(lists, limit=100) == [4, 1, 2, 5, 3]


def test_repeats_within_a_list_count_once_at_best_rank() -> None:
    assert reciprocal_rank_fusion([["a", "a", "a", "b"], ["b"]]) == ["b", "a"]


def test_k_controls_how_much_the_top_ranks_dominate() -> None:
    lists = [["a", "x", "b"], ["y", "z", "b"]]
    # k=0: being first once (1/1) beats being third twice (2/3).
    assert reciprocal_rank_fusion(lists, k=0)[0] == "a"
    # k=60: agreement wins, 2/63 > 1/61.
    assert reciprocal_rank_fusion(lists, k=60)[0] == "b"
    assert reciprocal_rank_fusion(lists)[0] == "b"  # k defaults to 60
    with pytest.raises(ValueError):
        reciprocal_rank_fusion(lists, k=-1)


def test_lists_may_be_any_iterable_of_sequences() -> None:
    assert reciprocal_rank_fusion(iter([(1, 2), (2,)])) == [2, 1]


# --- hybrid_rank ------------------------------------------------------------------------------

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _ev(
    key: str,
    similarity: float | None,
    *,
    keyword: float = 0.0,
    days: int = 0,
    words: int = 20,
    named: bool = False,
) -> Evidence[str]:
    return Evidence(key, similarity, keyword, T0 + timedelta(days=days), words, named)


def test_similarity_orders_when_nothing_else_differs() -> None:
    items = [_ev("a", 0.3), _ev("b", 0.6), _ev("c", 0.45)]
    assert hybrid_rank(items) == ["b", "c", "a"]
    assert hybrid_rank(items, limit=1) == ["b"] and hybrid_rank([]) == []


def test_a_common_word_match_cannot_beat_a_clearly_closer_text() -> None:
    """The failure of rank-only fusion: a message that merely shares a frequent word."""
    common = keyword_strength(40)  # matched by 40 messages of the scope
    items = [_ev("close", 0.62), _ev("shares-a-word", 0.45, keyword=common)]
    assert hybrid_rank(items)[0] == "close"


def test_a_unique_exact_match_lifts_a_text_over_a_slightly_closer_one() -> None:
    items = [_ev("near", 0.50), _ev("exact", 0.42, keyword=keyword_strength(1))]
    assert hybrid_rank(items)[0] == "exact"


def test_keyword_strength_falls_with_the_number_of_matches() -> None:
    strengths = [keyword_strength(m) for m in (0, 1, 2, 8, 50)]
    assert strengths[0] == strengths[1] == 1.0
    assert strengths == sorted(strengths, reverse=True)
    assert keyword_strength(50) < 0.25


def test_recency_breaks_near_ties_and_decides_now_questions() -> None:
    old, new = _ev("old", 0.52, days=0), _ev("new", 0.50, days=200)
    assert hybrid_rank([old, new]) == ["old", "new"]  # default prior: a tie-breaker only
    assert hybrid_rank([_ev("old", 0.5), _ev("new", 0.5, days=200)]) == ["new", "old"]
    assert hybrid_rank([old, new], tense="current") == ["new", "old"]
    far = _ev("old-but-much-closer", 0.75)
    assert hybrid_rank([far, new], tense="current")[0] == "old-but-much-closer"
    assert hybrid_rank([_ev("old", 0.5), _ev("new", 0.5, days=200)], tense="past")[0] == "old"


def test_named_author_and_brevity_priors() -> None:
    small_talk = _ev("assistant: sounds great!", 0.50, words=2)
    user = _ev("user's own words", 0.47, named=True)
    assert hybrid_rank([small_talk, user]) == ["user's own words", "assistant: sounds great!"]
    assert hybrid_rank([_ev("short", 0.5, words=2), _ev("long", 0.48)])[0] == "long"


def test_unembedded_candidates_take_the_median_similarity() -> None:
    items = [_ev("a", 0.5), _ev("b", 0.4), _ev("c", 0.2), _ev("kw", None, keyword=1.0)]
    assert hybrid_rank(items)[0] == "kw"  # 0.4 + full keyword weight
    assert hybrid_rank([_ev("x", None), _ev("y", None, days=1)]) == ["y", "x"]


def test_custom_weights() -> None:
    items = [_ev("a", 0.5), _ev("b", 0.45, keyword=1.0)]
    assert hybrid_rank(items, weights=Weights(keyword=0.0)) == ["a", "b"]


def test_words_for_brevity_counts_words_up_to_the_brief_limit() -> None:
    """The count the brevity prior reads, capped where it stops mattering: the same as
    counting every word of the text's start, for any mix of words, digits, underscores,
    accents, other scripts, punctuation and space (a long word is one word, never split)."""
    assert words_for_brevity("") == 0
    assert words_for_brevity("ok!") == 1
    assert words_for_brevity("x" * 300) == 1
    assert words_for_brevity("one two three") == 3
    assert words_for_brevity("w " * 50) == BRIEF_WORDS
    assert words_for_brevity("y" * 399 + " a b c d e f g h") == 1  # only the start is read
    words = re.compile(r"\w+")
    pieces = ["a", "bc", "déf", "日本", "x_y", "12", " ", "  ", ",", ".", "\n", "-", "'", "ß"]
    rng = random.Random(7)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))
        expected = min(len(words.findall(text[:400])), BRIEF_WORDS)
        assert words_for_brevity(text) == expected, text
