"""The dialectic agent's prompts (our own wording). Pure."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ...llm import Message, system, user
from .memory import ChatMemory
from .render import conclusion_lines, stamp

_ROLE_SELF = (
    "You answer questions about {observed} from a long-term memory of what {observed} has "
    "said and what has been concluded about them."
)
_ROLE_OTHER = (
    "You answer questions about {observed} as {observer} knows them: from {observer}'s "
    "long-term memory of what {observed} said and what {observer} concluded about them. Answer "
    "from that point of view only."
)
_ROLE_WORKSPACE = (
    "You answer questions about the people (peers) of a workspace from its long-term memory: "
    "conclusions drawn about each peer and the messages of its sessions."
)
_RULES = """Rules:
- Use only the memory below and what your tools return. Never invent facts.
- Be concise and direct: answer the question, then stop. No preamble about searching.
- Prefer the newest information when facts changed over time; mention a contradiction when
  it matters to the answer.
- If the memory holds nothing relevant, say briefly that nothing is known about it."""
_WORKFLOW = """How to use your tools:
- Check what is already given below first; call tools only for what is missing.
- For advice or recommendations, look up the person's preferences before answering.
- Cross-check an important fact against the messages it came from when unsure.
- To count or list things, search the messages exhaustively (grep_messages) rather than
  relying on one search.
- Stop searching as soon as you have an explicit answer."""


def system_prompt(memory: ChatMemory, *, with_tools: bool) -> str:
    parts = [_role(memory), _RULES]
    if with_tools:
        parts.append(_WORKFLOW)
    if memory.custom_instructions:
        parts.append("Instructions from the operator:\n" + memory.custom_instructions)
    for card in memory.cards:
        parts.append(f"## {card.label}\n" + "\n".join(f"- {e}" for e in card.entries))
    if memory.summary:
        parts.append(f"## Summary of session {memory.session}\n{memory.summary}")
    if memory.history:
        lines = [f"{stamp(r.created_at)} {r.peer_name}: {r.content}" for r in memory.history]
        parts.append(f"## Recent messages of session {memory.session}\n" + "\n".join(lines))
    return "\n\n".join(parts)


def _role(memory: ChatMemory) -> str:
    if memory.observed is None:
        return _ROLE_WORKSPACE
    if memory.observer is None or memory.observer == memory.observed:
        return _ROLE_SELF.format(observed=memory.observed)
    return _ROLE_OTHER.format(observed=memory.observed, observer=memory.observer)


def known(memory: ChatMemory) -> str:
    """The prefetched conclusions, as the first user message shows them."""
    explicit = conclusion_lines(memory.explicit)
    derived = conclusion_lines(memory.derived)
    if not explicit and not derived:
        return "## Known conclusions\n(none recorded yet)"
    parts = ["## Known conclusions (nearest to the question)"]
    if explicit:
        parts.append("### Stated facts\n" + "\n".join(explicit))
    if derived:
        parts.append("### Derived conclusions\n" + "\n".join(derived))
    return "\n".join(parts)


def first_messages(memory: ChatMemory, query: str, *, with_tools: bool) -> list[Message]:
    return [
        system(system_prompt(memory, with_tools=with_tools)),
        user(f"{known(memory)}\n\n## Question\n{query}"),
    ]


def final_messages(
    memory: ChatMemory, query: str, findings: Sequence[str], response_format: Any | None
) -> list[Message]:
    """One self-contained request for the answer: the memory, what the searches found, the
    question (tools are not offered)."""
    found = "\n\n".join(findings) if findings else "(no further searches were made)"
    ask = f"## Question\n{query}\n\nAnswer the question now."
    if response_format is not None:
        ask += " Answer with JSON conforming to this schema:\n" + json.dumps(response_format)
    text = f"{known(memory)}\n\n## What the searches found\n{found}\n\n{ask}"
    return [system(system_prompt(memory, with_tools=False)), user(text)]
