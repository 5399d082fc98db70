"""The derive job's pure plan step (``deriver/derive_plan.py``): no database, no model."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest

from honcho_server.db.repositories.conclusion_rows import Paraphrase, PremiseMatch
from honcho_server.deriver.dedupe import Candidate, Stored
from honcho_server.deriver.derive_plan import (
    Collection,
    CollectionPlan,
    candidates,
    cosine_distance,
    plan_collection,
)
from honcho_server.deriver.prompts import Deduction, Extraction, Update

X, Y = [1.0, 0.0], [0.0, 1.0]
CLOSE = [1.0, 0.01]  # within the semantic distance of X


def fact(text: str, session: str | None = "s") -> Candidate:
    return Candidate("explicit", text, session, source_message_ids=("m1",))


def deduction(text: str, *premises: str) -> Candidate:
    return Candidate("deductive", text, "s", premises=premises, source_message_ids=("m1",))


def plan(
    batch: Sequence[Candidate],
    found: Collection | None = None,
    vectors: dict[str, list[float]] | None = None,
    updates: Sequence[tuple[str, str]] = (),
) -> CollectionPlan:
    ids = (f"n{i}" for i in itertools.count(1))
    return plan_collection(
        found or Collection("o"),
        batch,
        vectors or {},
        updates,
        tokens=lambda text: set(text.lower().split()),
        new_id=lambda: next(ids),
    )


def summary(p: CollectionPlan) -> dict[str, object]:
    return {
        "insert": [(r.id, r.content, r.times_derived, r.source_ids) for r in p.insert],
        "reinforce": dict(p.reinforce),
        "repoint": p.repoint,
        "delete": p.delete,
        "supersede": p.supersede,
    }


Row = tuple[str, str, int, tuple[str, ...]]


def want(*insert: Row, **writes: object) -> dict[str, object]:
    nothing: dict[str, object] = {"reinforce": {}, "repoint": [], "delete": [], "supersede": []}
    return {"insert": list(insert)} | nothing | writes


CASES: list[tuple[str, dict[str, object], dict[str, object]]] = [
    ("empty answer", {"batch": []}, want()),
    (
        "blank texts and sessionless facts are dropped",
        {"batch": [fact("  "), fact("a cat", None)]},
        want(),
    ),
    (
        "new facts are inserted once, trimmed",
        {"batch": [fact(" has a dog "), fact("Has a dog"), fact("lives in Lisbon")]},
        want(("n1", "has a dog", 1, ()), ("n2", "lives in Lisbon", 1, ())),
    ),
    (
        "an exact duplicate of a stored row reinforces it",
        {
            "batch": [fact("Has a dog")],
            "found": Collection("o", stored=[Stored("old", "explicit", "has a dog", "s")]),
        },
        want(reinforce={"old": 1}),
    ),
    (
        "the same text in another session is not a duplicate",
        {
            "batch": [fact("has a dog")],
            "found": Collection("o", stored=[Stored("old", "explicit", "has a dog", "s2")]),
        },
        want(("n1", "has a dog", 1, ())),
    ),
    (
        "a less specific paraphrase reinforces the stored row",
        {
            "batch": [fact("has a dog")],
            "vectors": {"has a dog": CLOSE},
            "found": Collection(
                "o", near={"has a dog": [Paraphrase("old", "has a pet dog", 2, 0.01)]}
            ),
        },
        want(reinforce={"old": 1}),
    ),
    (
        "a more specific paraphrase replaces the stored row and counts it",
        {
            "batch": [fact("has a pet dog")],
            "vectors": {"has a pet dog": CLOSE},
            "found": Collection(
                "o", near={"has a pet dog": [Paraphrase("old", "has a dog", 2, 0.01)]}
            ),
        },
        want(("n1", "has a pet dog", 3, ()), delete=["old"], repoint=[("old", "n1")]),
    ),
    (
        "a paraphrase farther than the semantic distance is new",
        {
            "batch": [fact("has a pet dog")],
            "vectors": {"has a pet dog": Y},
            "found": Collection(
                "o", near={"has a pet dog": [Paraphrase("old", "has a dog", 1, 0.2)]}
            ),
        },
        want(("n1", "has a pet dog", 1, ())),
    ),
    (
        "paraphrases inside one batch: the later, less specific one reinforces the first",
        {
            "batch": [fact("has a pet dog"), fact("has a dog")],
            "vectors": {"has a pet dog": X, "has a dog": CLOSE},
        },
        want(("n1", "has a pet dog", 2, ())),
    ),
    (
        "paraphrases inside one batch: the later, more specific one replaces the first",
        {
            "batch": [fact("has a dog"), fact("has a pet dog")],
            "vectors": {"has a dog": X, "has a pet dog": CLOSE},
        },
        want(
            ("n1", "has a dog", 1, ()),
            ("n2", "has a pet dog", 2, ()),
            delete=["n1"],
            repoint=[("n1", "n2")],
        ),
    ),
    (
        "a deduction cites stored premises (explicit first) and ones from the batch",
        {
            "batch": [
                fact("lives in Lisbon"),
                deduction("speaks Portuguese", "Lives in Lisbon.", "likes  TEA", "unknown"),
            ],
            "found": Collection(
                "o",
                premises=[
                    PremiseMatch("d1", "deductive", "likes tea"),
                    PremiseMatch("e1", "explicit", "likes tea"),
                ],
            ),
        },
        want(("n1", "lives in Lisbon", 1, ()), ("n2", "speaks Portuguese", 1, ("n1", "e1"))),
    ),
    (
        "a deduction citing a replaced row cites its replacement",
        {
            "batch": [deduction("owns a pet", "has a dog"), fact("has a pet dog")],
            "vectors": {"owns a pet": Y, "has a pet dog": CLOSE},
            "found": Collection(
                "o",
                premises=[PremiseMatch("old", "explicit", "has a dog")],
                near={"has a pet dog": [Paraphrase("old", "has a dog", 1, 0.01)]},
            ),
        },
        want(
            ("n1", "owns a pet", 1, ("n2",)),
            ("n2", "has a pet dog", 2, ()),
            delete=["old"],
            repoint=[("old", "n2")],
        ),
    ),
    (
        "an update supersedes the known fact with the row its current fact became",
        {
            "batch": [fact("lives in Porto")],
            "updates": [("Lives in Lisbon.", "lives in porto"), ("unknown", "lives in Porto")],
            "found": Collection("o", premises=[PremiseMatch("old", "explicit", "lives in lisbon")]),
        },
        want(("n1", "lives in Porto", 1, ()), supersede=[("old", "n1")]),
    ),
    (
        "an update whose current fact was not stored in this batch is ignored",
        {
            "batch": [fact("lives in Porto")],
            "updates": [("lives in Lisbon", "lives in Faro")],
            "found": Collection("o", premises=[PremiseMatch("old", "explicit", "lives in lisbon")]),
        },
        want(("n1", "lives in Porto", 1, ())),
    ),
    (
        "only explicit conclusions are superseded",
        {
            "batch": [fact("lives in Porto")],
            "updates": [("lives in Lisbon", "lives in Porto")],
            "found": Collection(
                "o", premises=[PremiseMatch("old", "deductive", "lives in lisbon")]
            ),
        },
        want(("n1", "lives in Porto", 1, ())),
    ),
]


@pytest.mark.parametrize(("name", "given", "expected"), CASES, ids=[c[0] for c in CASES])
def test_plan(name: str, given: dict[str, object], expected: dict[str, object]) -> None:
    got = plan(**given)  # type: ignore[arg-type]
    assert summary(got) == expected


def test_what_the_plan_reports() -> None:
    got = plan([fact("has a dog"), deduction("owns a pet")], vectors={"has a dog": X})
    assert got.carded and got.unembedded == ["n2"]
    assert not plan([deduction("owns a pet")]).carded


def test_candidates_keep_the_models_order_explicit_first() -> None:
    answer = Extraction(
        explicit=["a"],
        deductive=[Deduction(conclusion="b", premises=["a"])],
        updates=[Update(outdated="x", current="a")],
    )
    assert candidates("s", ("m1",), answer) == [
        Candidate("explicit", "a", "s", source_message_ids=("m1",)),
        Candidate("deductive", "b", "s", premises=("a",), source_message_ids=("m1",)),
    ]


def test_cosine_distance() -> None:
    assert cosine_distance(X, X) == 0
    assert cosine_distance(X, Y) == 1
    assert cosine_distance(X, CLOSE) < 0.001
    assert cosine_distance([0.0, 0.0], X) != cosine_distance([0.0, 0.0], X)  # NaN
