from __future__ import annotations

from datetime import UTC, datetime

from honcho_server.services.representation.render import Item, Representation, render
from honcho_server.services.representation.working import split_shares


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_render_matches_the_documented_example() -> None:
    rep = Representation(
        [
            Item(
                "Rover is 5 years old",
                "deductive",
                _at("2025-01-02 09:00:00"),
                premises=("alice has a dog named Rover", "alice's dog is 5 years old"),
            ),
            Item("alice's dog is 5 years old", "explicit", _at("2025-01-01 12:01:00")),
            Item("alice has a dog named Rover", "explicit", _at("2025-01-01 12:00:00")),
        ]
    )
    assert render(rep) == (
        "## Explicit Observations\n\n[2025-01-01 12:00:00] alice has a dog named Rover\n"
        "[2025-01-01 12:01:00] alice's dog is 5 years old\n\n## Deductive Observations\n\n"
        "[2025-01-02 09:00:00] Rover is 5 years old\n   Premises:\n   - alice has a dog named "
        "Rover\n   - alice's dog is 5 years old\n\n"
    )


def test_render_empty_and_inductive() -> None:
    assert render(Representation()) == ""
    text = render(
        Representation(
            [
                Item(
                    "likes mornings",
                    "inductive",
                    _at("2025-01-01 00:00:00"),
                    sources=tuple(f"s{i}" for i in range(7)),
                    confidence="high",
                )
            ]
        )
    )
    assert " **Pattern** [high]: likes mornings" in text
    assert "   **Type**: pattern" in text
    assert "   - s4\n   - ... and 2 more" in text


def test_split_shares() -> None:
    assert split_shares(100, semantic=False, top_k=None, include_most_frequent=False).recent == 100
    shares = split_shares(100, semantic=False, top_k=None, include_most_frequent=True)
    assert (shares.frequent, shares.recent) == (50, 50)
    shares = split_shares(30, semantic=True, top_k=None, include_most_frequent=True)
    assert (shares.semantic, shares.frequent, shares.recent) == (10, 10, 10)
    assert split_shares(5, semantic=True, top_k=50, include_most_frequent=True).semantic == 5
