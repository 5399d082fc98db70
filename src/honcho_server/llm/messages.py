"""Chat messages, independent of any provider's client library."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asked for: ``arguments`` is the JSON text exactly as it sent it."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message. An assistant message may carry ``tool_calls``; a ``tool`` message
    answers the call ``tool_call_id``."""

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


def system(content: str) -> Message:
    return Message("system", content)


def user(content: str) -> Message:
    return Message("user", content)


def assistant(content: str, tool_calls: tuple[ToolCall, ...] = ()) -> Message:
    return Message("assistant", content, tool_calls)


def tool_result(call_id: str, content: str) -> Message:
    """The answer to the tool call ``call_id``."""
    return Message("tool", content, tool_call_id=call_id)
