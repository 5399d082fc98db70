"""Snapshot tests of the deriver's prompts: a change to a prompt shows up as a diff here.

Regenerate deliberately: ``UPDATE_SNAPSHOTS=1 python3 dev.py test tests/test_deriver_prompts.py``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from honcho_server.deriver.prompts import (
    ChatMessage,
    Extraction,
    Line,
    extraction_prompt,
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
