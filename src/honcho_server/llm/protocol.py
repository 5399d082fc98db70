"""What features need from a language model (:class:`LLMClient`), without its implementation
(:mod:`.client`, which imports ``openai``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from pydantic import BaseModel

from .config import LLMConfig
from .messages import Message
from .results import Completion, Structured, TextStream
from .tools import Tool, ToolChoice, ToolTurn

T = TypeVar("T", bound=BaseModel)


class LLMClient(Protocol):
    """What features need from a language model. Build one with
    :meth:`honcho_server.llm.LLMRegistry.client`; share it; :meth:`aclose` at shutdown."""

    @property
    def config(self) -> LLMConfig: ...

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        """A plain-text answer (thinking removed)."""
        ...

    async def structured(
        self,
        messages: Sequence[Message],
        schema: type[T],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Structured[T]:
        """An answer validated as ``schema`` (see :mod:`.structured`)."""
        ...

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> TextStream:
        """The answer's text as it is generated (thinking removed)."""
        ...

    async def complete_with_tools(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool],
        *,
        tool_choice: ToolChoice = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> ToolTurn:
        """One turn that may call ``tools``: text and/or tool calls.
        :class:`~.tools.ToolsUnsupported` when the endpoint refuses tools."""
        ...

    @property
    def tools_supported(self) -> bool | None:
        """Whether this endpoint took ``tools`` (None: not asked yet; False: it refused)."""
        ...

    async def aclose(self) -> None: ...
