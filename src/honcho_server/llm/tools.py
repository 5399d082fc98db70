"""Tool calling (OpenAI ``tools`` / ``tool_calls``): what a tool looks like to the model, and
what a turn that may call tools returns.

Not every endpoint takes ``tools`` (older llama.cpp builds, some Ollama models). A refusal
that names tools raises :class:`ToolsUnsupported` and is remembered for the (endpoint, model):
:attr:`~honcho_server.llm.client.OpenAICompatClient.tools_supported` is then ``False`` and
callers fall back to putting what the tools would have found into the prompt.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from .errors import LLMError, LLMRequestRejected
from .messages import ToolCall
from .usage import Usage

#: ``None`` leaves the choice to the model's default (the parameter is not sent).
ToolChoice = Literal["auto", "required", "none"] | None

_TOOL_WORDS = re.compile(r"\btools?\b|tool_choice|function[ _]?call|functions?\b", re.I)


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the model may call: ``parameters`` is the JSON Schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolTurn:
    """One answered request that offered tools: text (thinking removed) and/or tool calls."""

    text: str
    tool_calls: tuple[ToolCall, ...]
    usage: Usage
    finish_reason: str | None = None


class ToolsUnsupported(LLMRequestRejected):
    """The endpoint refused the ``tools`` parameter (remembered per endpoint and model)."""


def refuses_tools(error: LLMError) -> bool:
    """Whether a refused request was refused because of its tools (the message names them)."""
    status = error.status_code or 0
    if not (400 <= status < 600):
        return False
    return bool(_TOOL_WORDS.search(error.message))


def parse_arguments(call: ToolCall) -> dict[str, Any]:
    """The call's arguments as an object; ``{}`` for empty text. Raises ``ValueError`` when
    they are not a JSON object (the model should be told, not the request failed)."""
    if not call.arguments.strip():
        return {}
    value = json.loads(call.arguments)
    if not isinstance(value, dict):
        raise ValueError("tool arguments must be a JSON object")
    return value
