"""Reciprocal-rank fusion (pure)."""

from __future__ import annotations

import pytest

from honcho_server.services.ranking import RRF_K, reciprocal_rank_fusion


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
