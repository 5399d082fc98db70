"""Snapshot tests of the deriver's prompts: a change to a prompt shows up as a diff here.

Regenerate deliberately: ``UPDATE_SNAPSHOTS=1 python3 dev.py test tests/test_deriver_prompts.py``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from honcho_server.deriver.prompts import (
    CardUpdate,
    ChatMessage,
    Extraction,
    Line,
    card_prompt,
    extraction_prompt,
    normalise_card,
    summary_prompt,
)

SNAPSHOTS = Path(__file__).parent / "snapshots"
T = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _render(messages: list[ChatMessage]) -> str:
    return "\n\n".join(f"=== {m.role} ===\n{m.content}" for m in messages) + "\n"


def _check(name: str, messages: list[ChatMessage]) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    text = _render(messages)
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(text)
    assert path.exists(), f"no snapshot {path}: run with UPDATE_SNAPSHOTS=1 and review it"
    assert text == path.read_text(), f"prompt {name} changed; see {path}"


def test_extraction_prompt_snapshot() -> None:
    _check(
        "extraction",
        extraction_prompt(
            "alice",
            new_messages=[Line("alice", "I just moved to Lisbon with my dog Rex.", T)],
            earlier=[Line("bot", "Hi Alice! How was your week?", T)],
            known=["alice works as a nurse"],
            custom_instructions="Focus on travel plans.",
        ),
    )


def test_summary_prompts_snapshot() -> None:
    lines = [Line("alice", "Can you book a table for two?", T), Line("bot", "Done, 8pm.", T)]
    _check("summary_short", summary_prompt("short", None, lines, word_limit=150))
    _check("summary_long", summary_prompt("long", "Alice asked about restaurants.", lines, 3000))


def test_prompt_mentions_the_schema_and_nothing_for_blank_instructions() -> None:
    messages = extraction_prompt("bob", [Line("bob", "hi", T)], [], [], custom_instructions="  ")
    assert "Additional instructions" not in messages[0].content
    assert '"explicit"' in messages[0].content and '"premises"' in messages[0].content
    assert Extraction.model_validate({"explicit": ["bob says hi"]}).deductive == []


def test_card_prompt_snapshot() -> None:
    _check(
        "card",
        card_prompt(
            "alice",
            ["IDENTITY: Alice, a nurse"],
            ["alice moved to Lisbon", "alice has a dog named Rex"],
        ),
    )
    assert CardUpdate.model_validate({}).entries == []


def test_normalise_card() -> None:
    got = normalise_card(
        [
            "  IDENTITY: Alice  ",
            "identity: lower-case label",
            "NAME: Alice",
            "ATTRIBUTE: ",
            "ATTRIBUTE: " + "x" * 200,
            "identity:  alice",
            "IDENTITY:   ALICE",
            "RELATIONSHIP: has a dog named Rex",
        ]
        + [f"INSTRUCTION: rule {i}" for i in range(50)]
    )
    assert got[:4] == [
        "IDENTITY: Alice",
        "IDENTITY: lower-case label",
        "IDENTITY: Name: Alice",
        "RELATIONSHIP: has a dog named Rex",
    ]
    assert len(got) == 40 and got[-1] == "INSTRUCTION: rule 35"
