"""Prompts for the deriver. Pure functions of their inputs; snapshot-tested.

Written for small local models as much as for hosted ones: short, concrete instructions, the
output shape spelled out, and no reliance on the model inferring what "memory" means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class Line:
    """One message of the conversation as the model sees it."""

    speaker: str
    content: str
    at: datetime


class Deduction(BaseModel):
    conclusion: str = Field(description="something that follows from the facts")
    premises: list[str] = Field(default_factory=list, description="the facts it follows from")


class Extraction(BaseModel):
    """What the model returns: facts stated by the messages, and what follows from them."""

    explicit: list[str] = Field(default_factory=list)
    deductive: list[Deduction] = Field(default_factory=list)


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


def _transcript(lines: Sequence[Line]) -> str:
    return "\n".join(f"[{_stamp(x.at)}] {x.speaker}: {x.content}" for x in lines) or "(none)"


def extraction_prompt(
    observed: str,
    new_messages: Sequence[Line],
    earlier: Sequence[Line],
    known: Sequence[str],
    custom_instructions: str | None = None,
) -> list[ChatMessage]:
    """Ask for facts about ``observed`` in ``new_messages`` (``earlier`` is context only)."""
    system = (
        f"You keep a long-term memory about a person called {observed}. "
        f"You read what {observed} said and write down what it tells you about {observed}.\n\n"
        "Write two lists:\n"
        f"- explicit: facts {observed}'s new messages state or plainly imply, each one short, "
        f'self-contained sentence that names {observed} (for example "{observed} has a dog '
        f'named Rex"). Include identity, relationships, preferences, plans, circumstances, '
        "opinions and anything they ask to be remembered. Skip greetings and small talk.\n"
        "- deductive: conclusions that follow with high certainty from the facts (new or "
        "already known), each with the facts it follows from as premises.\n\n"
        f"Do not repeat what is already known, do not write facts about anyone but {observed}, "
        "and do not guess. If there is nothing to add, return empty lists.\n"
        'Answer with JSON only: {"explicit": ["..."], "deductive": '
        '[{"conclusion": "...", "premises": ["..."]}]}'
    )
    if custom_instructions and custom_instructions.strip():
        system += (
            f"\n\nAdditional instructions for this conversation:\n{custom_instructions.strip()}"
        )
    known_text = "\n".join(f"- {k}" for k in known) or "(nothing yet)"
    user = (
        f"Already known about {observed}:\n{known_text}\n\n"
        f"Earlier in the conversation (context only):\n{_transcript(earlier)}\n\n"
        f"New messages to learn from:\n{_transcript(new_messages)}"
    )
    return [ChatMessage("system", system), ChatMessage("user", user)]


def summary_prompt(
    kind: Literal["short", "long"],
    previous: str | None,
    lines: Sequence[Line],
    word_limit: int,
) -> list[ChatMessage]:
    """Ask for a summary of the whole conversation so far: ``previous`` plus ``lines``."""
    focus = (
        "the facts, decisions, requests and open questions"
        if kind == "short"
        else "the facts, decisions, requests and open questions, and also each participant's "
        "mood, personality and recurring themes"
    )
    system = (
        "You summarise a conversation so that someone who missed it can pick it up. "
        f"Cover the whole conversation so far, in order, as flowing prose (no bullet points), "
        f"keeping {focus}. Use the participants' names. Write at most {word_limit} words."
    )
    user = (
        f"Summary of the conversation until now:\n{previous or '(this is the start)'}\n\n"
        f"What was said since:\n{_transcript(lines)}\n\n"
        "Write the updated summary of the whole conversation."
    )
    return [ChatMessage("system", system), ChatMessage("user", user)]


CARD_PREFIXES = ("IDENTITY: ", "ATTRIBUTE: ", "RELATIONSHIP: ", "INSTRUCTION: ")
CARD_MAX_ENTRIES = 40
CARD_MAX_CHARS = 200


class CardUpdate(BaseModel):
    """What the model returns: the whole new card."""

    entries: list[str] = Field(default_factory=list)


def card_prompt(observed: str, card: Sequence[str], facts: Sequence[str]) -> list[ChatMessage]:
    """Ask for the updated card of ``observed``: the current ``card`` revised by ``facts``."""
    system = (
        f"You maintain a short profile card about a person called {observed}: only stable "
        "facts that stay true for months or years. Keep name, age, where they live, "
        "occupation, family and other relationships, lasting likes and dislikes, and standing "
        f"instructions {observed} gave about how to treat them. Leave out moods, one-off "
        "events, plans and anything uncertain.\n\n"
        "Every entry starts with exactly one of these labels and is one short line:\n"
        "- IDENTITY: who they are (name, age, location, occupation)\n"
        "- ATTRIBUTE: a lasting trait or preference\n"
        "- RELATIONSHIP: a person or pet in their life and how they relate\n"
        "- INSTRUCTION: how they asked to be treated or answered\n\n"
        f"Write the complete new card: keep current entries that still hold, correct those the "
        f"new facts contradict, add what is new, and merge repeats. At most {CARD_MAX_ENTRIES} "
        f"entries of at most {CARD_MAX_CHARS} characters each.\n"
        'Answer with JSON only: {"entries": ["IDENTITY: ...", "ATTRIBUTE: ..."]}'
    )
    card_text = "\n".join(card) or "(empty)"
    facts_text = "\n".join(f"- {f}" for f in facts) or "(none)"
    user = (
        f"Current card of {observed}:\n{card_text}\n\n"
        f"Facts learned about {observed}, oldest first:\n{facts_text}\n\n"
        "Write the updated card."
    )
    return [ChatMessage("system", system), ChatMessage("user", user)]


def normalise_card(entries: Sequence[str]) -> list[str]:
    """Valid entries only: a known label followed by text, at most ``CARD_MAX_CHARS`` long;
    case- and whitespace-insensitive duplicates dropped; the first ``CARD_MAX_ENTRIES`` kept."""
    out: list[str] = []
    seen: set[str] = set()
    for raw in entries:
        entry = raw.strip()
        prefix = next((p for p in CARD_PREFIXES if entry.startswith(p)), None)
        if prefix is None or not entry[len(prefix) :].strip() or len(entry) > CARD_MAX_CHARS:
            continue
        k = " ".join(entry.lower().split())
        if k in seen:
            continue
        seen.add(k)
        out.append(entry)
        if len(out) == CARD_MAX_ENTRIES:
            break
    return out
