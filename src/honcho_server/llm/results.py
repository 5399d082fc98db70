"""What LLM calls return."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel

from .messages import ToolCall
from .usage import Usage

T = TypeVar("T", bound=BaseModel)
ConcreteMode = Literal["json_schema", "json_object", "text"]


@dataclass(frozen=True, slots=True)
class Reply:
    """One answered request, as the endpoint sent it."""

    content: str
    usage: Usage
    finish_reason: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class Completion:
    """A plain-text answer. ``text`` has any thinking removed; ``raw`` is as sent."""

    text: str
    usage: Usage
    finish_reason: str | None = None
    raw: str = ""


@dataclass(frozen=True, slots=True)
class Structured(Generic[T]):
    """A validated structured answer.

    ``mode_used`` is how the structure was asked for; ``attempts`` is 1, or 2 when the first
    answer was invalid and the corrective retry fixed it; ``usage`` covers every request.
    ``raw`` is the validated answer as sent, when the producer kept it ("" otherwise), so a
    caller that finds the value unusable can keep what the model actually wrote.
    """

    value: T
    usage: Usage
    mode_used: ConcreteMode
    attempts: int
    raw: str = ""


class TextStream:
    """The answer's text as it arrives (thinking removed): ``async for piece in stream``.

    ``usage`` and ``finish_reason`` are known once the stream is exhausted. Close it with
    :meth:`aclose` when stopping early.
    """

    def __init__(self, source: Callable[[TextStream], AsyncGenerator[str, None]]) -> None:
        self.usage = Usage()
        self.finish_reason: str | None = None
        self._pieces = source(self)

    def __aiter__(self) -> TextStream:
        return self

    async def __anext__(self) -> str:
        return await self._pieces.__anext__()

    async def aclose(self) -> None:
        await self._pieces.aclose()

    async def text(self) -> str:
        """The rest of the answer, joined."""
        return "".join([piece async for piece in self])
