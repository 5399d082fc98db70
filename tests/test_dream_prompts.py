"""Dream prompts as snapshots, and the pure rules that check the model's answers.

Regenerate snapshots deliberately:
``UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/test_dream_prompts.py``.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from honcho_server.db.repositories.dreams import CollectionState
from honcho_server.dreams.consolidate import (
    Known,
    after_deduction,
    plan_deduction,
    plan_induction,
)
from honcho_server.dreams.prompts import (
    DeductionAnswer,
    InductionAnswer,
    PromptItem,
    deduction_prompt,
    induction_prompt,
)
from honcho_server.dreams.scheduling import quiet_at, wants_dream
from test_deriver_prompts import _check

T = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
ITEMS = [
    PromptItem("c1", "explicit", "alice lives in Porto", T),
    PromptItem("c2", "explicit", "alice moved to Lisbon", T + timedelta(days=3)),
    PromptItem("c3", "deductive", "alice lives in Portugal", T + timedelta(days=4)),
]


def test_deduction_prompt_snapshots() -> None:
    _check("dream_deduction", deduction_prompt("alice", "alice", ITEMS, ["IDENTITY: Alice"]))
    _check("dream_deduction_no_card", deduction_prompt("bob", "alice", ITEMS, None))


def test_induction_prompt_snapshot() -> None:
    _check("dream_induction", induction_prompt("alice", "alice", ITEMS))


def test_card_part_only_when_the_card_may_be_written() -> None:
    on = deduction_prompt("alice", "alice", ITEMS, [])
    off = deduction_prompt("alice", "alice", ITEMS, None)
    assert "peer_card" in on[0].content and "(empty)" in on[1].content
    assert "peer_card" not in off[0].content and "card" not in off[1].content


def _known(*texts: str, level: str = "explicit") -> list[Known]:
    return [
        Known(f"c{n}", f"id{n}", level, text, T + timedelta(minutes=n), times_derived=n)
        for n, text in enumerate(texts, 1)
    ]


_COUNTER = itertools.count(1)


def _new_id() -> str:
    return f"new{next(_COUNTER)}"


def test_updates_keep_the_newer_fact_only() -> None:
    known = _known("alice lives in Porto", "alice lives in Lisbon")
    forward = DeductionAnswer.model_validate({"updates": [{"outdated": "c1", "current": "c2"}]})
    backward = DeductionAnswer.model_validate({"updates": [{"outdated": "c2", "current": "c1"}]})
    invented = DeductionAnswer.model_validate({"updates": [{"outdated": "c1", "current": "c7"}]})
    assert plan_deduction(known, forward, card_allowed=True, new_id=_new_id).superseded == [
        ("id1", "id2")
    ]
    assert plan_deduction(known, backward, card_allowed=True, new_id=_new_id).superseded == []
    assert plan_deduction(known, invented, card_allowed=True, new_id=_new_id).superseded == []


def test_duplicates_keep_the_most_specific_and_sum_reinforcement() -> None:
    known = _known("alice has a cat named Tom", "alice has a cat", "alice likes tea")
    answer = DeductionAnswer.model_validate(
        {"duplicates": [{"ids": ["c2", "c1"]}, {"ids": ["c1", "c3"]}, {"ids": ["c3"]}]}
    )
    plan = plan_deduction(known, answer, card_allowed=True, new_id=_new_id)
    [merge] = plan.merges  # c1 is in a group already; c3 alone is no group
    assert (merge.keep, merge.drop, merge.times_derived) == ("id1", ("id2",), 3)
    assert merge.merged_from == (("id2", "alice has a cat"),)
    assert [k.id for k in plan.remaining] == ["id1", "id3"]
    assert plan.deleted == ["id2"]


def test_duplicates_of_different_levels_are_not_merged() -> None:
    known = [*_known("alice has a cat"), Known("c2", "idx", "deductive", "alice has a cat", T)]
    answer = DeductionAnswer.model_validate({"duplicates": [{"ids": ["c1", "c2"]}]})
    assert plan_deduction(known, answer, card_allowed=True, new_id=_new_id).merges == []


def test_deductions_and_contradictions_need_known_ids() -> None:
    known = _known("alice is vegetarian", "alice loves steak")
    answer = DeductionAnswer.model_validate(
        {
            "deductions": [
                {"conclusion": "alice cares about food", "premises": ["c1", "c2", "c1"]},
                {"conclusion": "ALICE CARES ABOUT FOOD", "premises": ["c1"]},  # repeated
                {"conclusion": "alice is a chef", "premises": ["c5"]},
                {"conclusion": "   ", "premises": ["c1"]},
            ],
            "contradictions": [
                {"statement": "diet unclear", "ids": ["c1", "c2"]},
                {"statement": "alone", "ids": ["c1", "c1"]},
            ],
            "peer_card": ["IDENTITY: Alice", "nonsense"],
        }
    )
    plan = plan_deduction(known, answer, card_allowed=True, new_id=_new_id)
    assert [(n.level, n.content, n.premises, n.sources) for n in plan.new] == [
        ("deductive", "alice cares about food", ("alice is vegetarian", "alice loves steak"), ()),
        ("contradiction", "diet unclear", (), ("alice is vegetarian", "alice loves steak")),
    ]
    assert plan.card == ["IDENTITY: Alice"]
    assert plan_deduction(known, answer, card_allowed=False, new_id=_new_id).card is None
    empty = DeductionAnswer.model_validate({"peer_card": ["junk"]})
    assert plan_deduction(known, empty, card_allowed=True, new_id=_new_id).card is None


def test_induction_sees_the_new_deductions_and_needs_two_sources() -> None:
    known = _known("alice runs", "alice swims", "alice lives in Porto")
    deduced = DeductionAnswer.model_validate(
        {
            "updates": [],
            "deductions": [{"conclusion": "alice is sporty", "premises": ["c1", "c2"]}],
        }
    )
    plan = plan_deduction(known, deduced, card_allowed=False, new_id=_new_id)
    shown = after_deduction(plan, T + timedelta(days=1))
    assert [(k.ref, k.content) for k in shown][-1] == ("c4", "alice is sporty")
    answer = InductionAnswer.model_validate(
        {
            "patterns": [
                {
                    "pattern": "alice trains",
                    "pattern_type": "Daily Habit!",
                    "confidence": "sure",
                    "sources": ["c1", "c4"],
                },
                {"pattern": "single", "sources": ["c1", "c1"]},
                {"pattern": "invented", "sources": ["c1", "c8"]},
            ]
        }
    )
    [pattern] = plan_induction(shown, answer, new_id=_new_id)
    assert pattern.level == "inductive" and pattern.sources == ("alice runs", "alice is sporty")
    assert pattern.source_ids == ("id1", plan.new[0].id)
    assert (pattern.pattern_type, pattern.confidence) == ("pattern", "medium")


def test_automatic_dream_rules() -> None:
    now = T

    def state(**kw: object) -> CollectionState:
        base: dict[str, object] = {
            "observer": "a",
            "live_explicit": 10,
            "last_dream_at": None,
            "last_dream_count": 0,
            "pending": False,
        }
        return CollectionState(**(base | kw))  # type: ignore[arg-type]

    def wants(s: CollectionState) -> bool:
        return wants_dream(s, now, threshold=10, min_hours=8)

    assert wants(state())
    assert not wants(state(live_explicit=9))
    assert not wants(state(pending=True))
    assert not wants(state(last_dream_at=now - timedelta(hours=7), last_dream_count=0))
    assert wants(
        state(last_dream_at=now - timedelta(hours=8), live_explicit=20, last_dream_count=10)
    )
    assert not wants(
        state(last_dream_at=now - timedelta(hours=9), live_explicit=19, last_dream_count=10)
    )

    idle = timedelta(minutes=60)
    assert quiet_at(None, now, idle) is None
    assert quiet_at(now - timedelta(minutes=61), now, idle) is None
    assert quiet_at(now - timedelta(minutes=10), now, idle) == now + timedelta(minutes=50)
    assert quiet_at(now + timedelta(days=5), now, idle) == now + idle  # future stamps count as now
