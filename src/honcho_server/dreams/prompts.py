"""What a dream asks the model, and the shapes it answers in. Pure; snapshot-tested.

Two stages, one structured call each, so any OpenAI-compatible model works (no tool calls):
deduction (new certain conclusions, duplicates, knowledge updates, contradictions, and the
peer card when the dream may write it), then induction (patterns across several
conclusions). Conclusions are shown with short ids (``c1``, ``c2``, …) that the answer cites;
:mod:`.consolidate` checks every cited id against what was shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from ..deriver.prompts import CARD_MAX_CHARS, CARD_MAX_ENTRIES, ChatMessage


@dataclass(frozen=True)
class PromptItem:
    """One conclusion as the model sees it."""

    ref: str
    level: str
    content: str
    at: datetime


class Deduced(BaseModel):
    conclusion: str = Field(description="a new conclusion that certainly follows")
    premises: list[str] = Field(default_factory=list, description="ids it follows from")


class Duplicates(BaseModel):
    ids: list[str] = Field(default_factory=list, description="ids that say the same thing")


class Update(BaseModel):
    outdated: str = Field(description="id of the fact that no longer holds")
    current: str = Field(description="id of the newer fact that replaces it")


class Conflict(BaseModel):
    statement: str = Field(description="what the conflict is about")
    ids: list[str] = Field(default_factory=list, description="ids that conflict")


class DeductionAnswer(BaseModel):
    deductions: list[Deduced] = Field(default_factory=list)
    duplicates: list[Duplicates] = Field(default_factory=list)
    updates: list[Update] = Field(default_factory=list)
    contradictions: list[Conflict] = Field(default_factory=list)
    peer_card: list[str] | None = None


class Pattern(BaseModel):
    pattern: str = Field(description="the general pattern")
    pattern_type: str = Field(default="pattern", description="preference, habit, trait, ...")
    confidence: str = Field(default="medium", description="high, medium or low")
    sources: list[str] = Field(default_factory=list, description="ids it generalises")


class InductionAnswer(BaseModel):
    patterns: list[Pattern] = Field(default_factory=list)


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


def _view(observer: str, observed: str) -> str:
    return (
        f"about {observed}" if observer == observed else f"that {observer} holds about {observed}"
    )


def render_items(items: Sequence[PromptItem]) -> str:
    return "\n".join(f"{i.ref} [{_stamp(i.at)}] ({i.level}) {i.content}" for i in items) or (
        "(none)"
    )


def deduction_prompt(
    observer: str, observed: str, items: Sequence[PromptItem], card: Sequence[str] | None
) -> list[ChatMessage]:
    """Ask for the deduction stage over ``items`` (oldest first). ``card`` is the current
    peer card, or ``None`` when the dream may not write one (the card part is left out)."""
    view = _view(observer, observed)
    system = (
        f"You tidy up a long-term memory {view}. Each line is one conclusion: an id, when it "
        "was learned, its kind (explicit = stated by the person, deductive, inductive, "
        "contradiction) and the text.\n\n"
        "Answer with four lists (empty lists are fine):\n"
        "- deductions: new conclusions that follow with certainty from the conclusions, each "
        "citing the ids it follows from as premises. Never repeat something already written "
        "down, never guess.\n"
        "- duplicates: groups of ids that say the same thing in different words.\n"
        "- updates: a fact that no longer holds because a NEWER conclusion replaces it (a "
        'move, a new job, a changed plan): {"outdated": id, "current": id}. The newer fact '
        "wins.\n"
        "- contradictions: conclusions that conflict when you cannot tell which one is "
        "current, with a short statement of the conflict and the ids involved.\n"
        "Use only ids from the list."
    )
    shape = (
        '{"deductions": [{"conclusion": "...", "premises": ["c1", "c2"]}], '
        '"duplicates": [{"ids": ["c3", "c4"]}], '
        '"updates": [{"outdated": "c5", "current": "c6"}], '
        '"contradictions": [{"statement": "...", "ids": ["c7", "c8"]}]'
    )
    if card is not None:
        system += (
            f"\n\nAlso write peer_card: the complete updated profile card of {observed}, only "
            "stable facts, each entry starting with one of IDENTITY:, ATTRIBUTE:, "
            f"RELATIONSHIP:, INSTRUCTION: (at most {CARD_MAX_ENTRIES} entries of at most "
            f"{CARD_MAX_CHARS} characters). Drop entries an update made outdated. Use null "
            "to leave the card as it is."
        )
        shape += ', "peer_card": ["IDENTITY: ..."]'
    system += f"\nAnswer with JSON only: {shape + '}'}"
    user = f"Conclusions {view}, oldest first:\n{render_items(items)}"
    if card is not None:
        user += f"\n\nCurrent peer card of {observed}:\n" + ("\n".join(card) or "(empty)")
    return [ChatMessage("system", system), ChatMessage("user", user)]


def induction_prompt(
    observer: str, observed: str, items: Sequence[PromptItem]
) -> list[ChatMessage]:
    """Ask for the induction stage: patterns that several of ``items`` share."""
    view = _view(observer, observed)
    system = (
        f"You look for patterns in a long-term memory {view}. Each line is one conclusion: "
        "an id, when it was learned, its kind and the text.\n\n"
        f"Write patterns: general tendencies of {observed} that at least two different "
        "conclusions support (a habit, a lasting preference, a personality trait, a recurring "
        "interest). Each pattern names its type (preference, habit, trait, interest, routine, "
        "relationship or pattern), a confidence (high when many conclusions agree, medium, "
        "low) and the ids of the conclusions it generalises (two or more). Do not restate a "
        "single conclusion, do not guess beyond what the conclusions show, use only ids from "
        "the list. If there is no pattern, return an empty list.\n"
        'Answer with JSON only: {"patterns": [{"pattern": "...", "pattern_type": "habit", '
        '"confidence": "medium", "sources": ["c1", "c2"]}]}'
    )
    user = f"Conclusions {view}, oldest first:\n{render_items(items)}"
    return [ChatMessage("system", system), ChatMessage("user", user)]
