"""Markdown rendering of a working representation. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

LEVELS = ("explicit", "deductive", "inductive", "contradiction")
_HEADINGS = {
    "explicit": "## Explicit Observations",
    "deductive": "## Deductive Observations",
    "inductive": "## Inductive Observations",
    "contradiction": "## Contradictions",
}
MAX_SOURCES_SHOWN = 5


@dataclass(frozen=True)
class Item:
    """One conclusion as the renderer needs it."""

    content: str
    level: str
    at: datetime
    session: str | None = None
    premises: Sequence[str] = ()
    sources: Sequence[str] = ()
    pattern_type: str | None = None
    confidence: str | None = None


@dataclass
class Representation:
    items: list[Item] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not self.items


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _item_lines(item: Item) -> list[str]:
    if item.level == "explicit":
        return [f"[{_stamp(item.at)}] {item.content}"]
    if item.level == "deductive":
        lines = [f"[{_stamp(item.at)}] {item.content}"]
        if item.premises:
            lines += ["   Premises:", *(f"   - {p}" for p in item.premises)]
        return [*lines, ""]
    if item.level == "inductive":
        lines = [f" **Pattern** [{item.confidence or 'medium'}]: {item.content}"]
        lines.append(f"   **Type**: {item.pattern_type or 'pattern'}")
        if item.sources:
            lines.append("   **Sources**:")
            lines += [f"   - {s}" for s in item.sources[:MAX_SOURCES_SHOWN]]
            if len(item.sources) > MAX_SOURCES_SHOWN:
                lines.append(f"   - ... and {len(item.sources) - MAX_SOURCES_SHOWN} more")
        return [*lines, ""]
    lines = [f" **CONTRADICTION**: {item.content}"]
    if item.sources:
        lines += ["   **Conflicting statements**:", *(f"   - {s}" for s in item.sources)]
    return [*lines, ""]


def render(rep: Representation) -> str:
    """Sections in level order, items oldest first; ``""`` when there is nothing."""
    lines: list[str] = []
    for level in LEVELS:
        items = sorted((i for i in rep.items if i.level == level), key=lambda i: i.at)
        if not items:
            continue
        lines.append(_HEADINGS[level] + "\n")
        for item in items:
            lines += _item_lines(item)
        lines.append("")
    return "\n".join(lines)
