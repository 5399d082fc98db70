"""The dialectic agent: tool calls where the model supports them, then the answer.

Tool mode: the model gets the prefetched memory and the tools; it calls tools for at most
the level's iterations. When it answers in text, that text is the answer. When it is still
calling tools at the end (or the input would outgrow ``DIALECTIC_MAX_INPUT_TOKENS``), one
request without tools asks for the answer from everything found so far; for ``stream``,
that request is streamed.

Prompt mode (``DIALECTIC_TOOL_MODE=prompt``, or ``auto`` with an endpoint that refused
tools): the server searches the messages for the question itself and one request answers.

With a ``response_format``, the answer is structured output checked against the schema (a
tool-mode text answer that already conforms is used as is).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ...llm import (
    LLMClient,
    Message,
    ToolsUnsupported,
    Usage,
    assistant,
    extract_json,
    schema_model,
    tool_result,
)
from ...llm.repair import RepairError
from ...tokens import count_tokens
from .levels import LevelPlan
from .memory import ChatMemory
from .prompts import final_messages, first_messages
from .request import ChatRequest
from .response_format import problems
from .tools import ToolRunner, tools_for, truncate

log = logging.getLogger(__name__)

_PIECES = re.compile(r"\S+\s*|\s+")
_FINAL_MARGIN = 512  # tokens kept free for the final request's instructions


@dataclass
class Prepared:
    """The answer found during the tool loop, or the request that will produce it."""

    direct: str | None
    final: list[Message]
    usage: Usage = field(default_factory=Usage)


class Agent:
    def __init__(
        self,
        client: LLMClient,
        runner: ToolRunner,
        memory: ChatMemory,
        req: ChatRequest,
        plan: LevelPlan,
        *,
        tool_mode: str,
        max_input_tokens: int,
    ) -> None:
        self.client = client
        self.runner = runner
        self.memory = memory
        self.req = req
        self.plan = plan
        self.tool_mode = tool_mode
        self.max_input_tokens = max_input_tokens

    # ---- answers ----------------------------------------------------------------------------

    async def answer(self) -> str:
        prepared = await self.prepare()
        if self.req.response_format is not None:
            return await self._structured(prepared)
        if prepared.direct:
            return prepared.direct
        completion = await self.client.complete(
            prepared.final, max_tokens=self.plan.max_output_tokens
        )
        return completion.text

    async def pieces(self) -> AsyncIterator[str]:
        """The answer's text as it comes (the final request streamed)."""
        prepared = await self.prepare()
        if self.req.response_format is not None or prepared.direct:
            text = (
                await self._structured(prepared)
                if self.req.response_format is not None
                else prepared.direct or ""
            )
            for piece in _PIECES.findall(text):
                yield piece
            return
        stream = self.client.stream(prepared.final, max_tokens=self.plan.max_output_tokens)
        try:
            async for piece in stream:
                if piece:
                    yield piece
        finally:
            await stream.aclose()

    # ---- gathering --------------------------------------------------------------------------

    async def prepare(self) -> Prepared:
        if self._use_tools():
            try:
                return await self._tool_loop()
            except ToolsUnsupported:
                if self.tool_mode != "auto":
                    raise
                log.warning("the dialectic model refused tools; answering in prompt mode")
        return await self._prompt_mode()

    def _use_tools(self) -> bool:
        if self.tool_mode == "auto":
            return self.client.tools_supported is not False
        return self.tool_mode == "tools"

    async def _tool_loop(self) -> Prepared:
        messages = first_messages(self.memory, self.req.query, with_tools=True)
        tools = tools_for(minimal=self.plan.minimal_tools, allowlisted=self.memory.allowlisted)
        findings: list[str] = []
        spent = Usage()
        for _ in range(self.plan.max_tool_iterations):
            if _tokens(messages) > self.max_input_tokens:
                break
            turn = await self.client.complete_with_tools(
                messages,
                tools,
                tool_choice=self.plan.tool_choice,
                max_tokens=self.plan.max_output_tokens,
            )
            spent += turn.usage
            if not turn.tool_calls:
                if turn.text:
                    return Prepared(turn.text, self._final(findings), spent)
                break
            messages.append(assistant(turn.text, turn.tool_calls))
            for call in turn.tool_calls:
                result = await self.runner.run(call, tools)
                messages.append(tool_result(call.id, result))
                findings.append(f"### {call.name} {call.arguments}\n{result}")
        return Prepared(None, self._final(findings), spent)

    async def _prompt_mode(self) -> Prepared:
        found = await self.runner.run_named("search_messages", {"query": self.req.query})
        return Prepared(None, self._final([f"### Messages matching the question\n{found}"]))

    def _final(self, findings: list[str]) -> list[Message]:
        bare = final_messages(self.memory, self.req.query, [], self.req.response_format)
        room = self.max_input_tokens - _tokens(bare) - _FINAL_MARGIN
        text = truncate("\n\n".join(findings), max(room, 0)) if findings else ""
        return final_messages(
            self.memory, self.req.query, [text] if text else [], self.req.response_format
        )

    # ---- structured -------------------------------------------------------------------------

    async def _structured(self, prepared: Prepared) -> str:
        schema: dict[str, Any] = self.req.response_format or {}
        if prepared.direct:
            value = _conforming(schema, prepared.direct)
            if value is not None:
                return json.dumps(value)
        model = schema_model("response", schema, lambda v: problems(schema, v))
        result = await self.client.structured(
            prepared.final, model, max_tokens=self.plan.max_output_tokens
        )
        return json.dumps(result.value.root)


def _conforming(schema: dict[str, Any], text: str) -> Any | None:
    try:
        value = extract_json(text)
    except RepairError:
        return None
    return value if not problems(schema, value) else None


def _tokens(messages: list[Message]) -> int:
    total = 0
    for message in messages:
        total += count_tokens(message.content)
        total += sum(count_tokens(call.arguments) for call in message.tool_calls)
    return total
