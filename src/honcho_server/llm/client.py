"""The implementation of :class:`~.protocol.LLMClient` for OpenAI-compatible endpoints.

Imported when a client is built (``registry.build_llm_client``), or at startup when a model
is configured (``LLMRegistry.load``): the ``openai`` package takes a third of a second to
import, which every process start would otherwise pay.

:class:`OpenAICompatClient` talks to anything that speaks ``/v1/chat/completions`` (OpenAI,
Ollama, LM Studio, llama.cpp, vLLM, OpenRouter, Anthropic's compatibility endpoint, …)
through the ``openai`` package. The package retries timeouts, connection errors, 408, 409,
429 and 5xx with exponential backoff (``max_retries``); what still fails becomes an
:mod:`.errors` error. A 400 that names a parameter the endpoint does not take
(``max_tokens`` vs ``max_completion_tokens``, ``temperature``, ``stream_options``) is
answered by sending the request again without it, and remembered. A refusal of ``tools``
raises :class:`~.tools.ToolsUnsupported`, also remembered (:attr:`tools_supported`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import TypedDict, TypeVar

import openai
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessageParam,
    ChatCompletionStreamOptionsParam,
    ChatCompletionToolChoiceOptionParam,
    ChatCompletionToolParam,
    completion_create_params,
)
from pydantic import BaseModel

from ..observability import metrics
from .config import LLMConfig
from .endpoints import ENDPOINTS, EndpointMemory
from .errors import LLMError, LLMOutputInvalid, LLMRequestRejected, LLMUnavailable
from .messages import Message, ToolCall
from .reasoning import ThinkFilter, strip_reasoning
from .results import Completion, Reply, Structured, TextStream
from .structured import OutputFormat, run_structured
from .tools import Tool, ToolChoice, ToolsUnsupported, ToolTurn, refuses_tools
from .usage import Usage

T = TypeVar("T", bound=BaseModel)

_TRANSIENT = {408, 409, 429}  # and 5xx: what the openai client retries
_MAX_ADJUSTMENTS = 3


class OpenAICompatClient:
    """:class:`LLMClient` on ``openai.AsyncOpenAI``."""

    def __init__(self, config: LLMConfig, *, memory: EndpointMemory = ENDPOINTS) -> None:
        self._config = config
        self._profile = memory.profile(config.base_url, config.model)
        self._where = f"LLM {config.model} at {config.base_url}"
        # A keyless local server still needs *a* key for the client; never read the env.
        key = config.api_key.get_secret_value() if config.api_key else "none"
        self._client = openai.AsyncOpenAI(
            base_url=config.base_url,
            api_key=key,
            timeout=config.timeout,
            max_retries=config.max_retries,
        )

    @property
    def config(self) -> LLMConfig:
        return self._config

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        reply = await self._send(list(messages), None, max_tokens, temperature)
        text = strip_reasoning(reply.content)
        if not text and reply.finish_reason == "length":
            raise LLMOutputInvalid(
                f"{self._where} used all {self._limit(max_tokens)} output tokens before "
                "answering (thinking, probably); raise LLM_MAX_OUTPUT_TOKENS",
                raw=reply.content,
                attempts=1,
                usage=reply.usage,
            )
        return Completion(text, reply.usage, reply.finish_reason, reply.content)

    async def structured(
        self,
        messages: Sequence[Message],
        schema: type[T],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Structured[T]:
        async def send(request: list[Message], output: OutputFormat) -> Reply:
            return await self._send(request, output, max_tokens, temperature)

        return await run_structured(
            send,
            list(messages),
            schema,
            configured=self._config.structured_mode,
            profile=self._profile,
            where=self._where,
        )

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> TextStream:
        request = list(messages)
        return TextStream(lambda stream: self._pieces(stream, request, max_tokens, temperature))

    async def complete_with_tools(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool],
        *,
        tool_choice: ToolChoice = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> ToolTurn:
        reply = await self._send(
            list(messages), None, max_tokens, temperature, tools=tools, tool_choice=tool_choice
        )
        if tools:
            self._profile.tools = True
        return ToolTurn(
            strip_reasoning(reply.content), reply.tool_calls, reply.usage, reply.finish_reason
        )

    @property
    def tools_supported(self) -> bool | None:
        return self._profile.tools

    async def aclose(self) -> None:
        await self._client.close()

    # ---- requests -------------------------------------------------------------------------

    @metrics.llm_call
    async def _send(
        self,
        messages: list[Message],
        output: OutputFormat | None,
        max_tokens: int | None,
        temperature: float | None,
        *,
        tools: Sequence[Tool] = (),
        tool_choice: ToolChoice = None,
    ) -> Reply:
        adjusted: set[str] = set()
        while True:
            options = self._options(max_tokens, temperature)
            try:
                response = await self._client.chat.completions.create(
                    model=self._config.model,
                    messages=[_param(m) for m in messages],
                    response_format=_response_format(output),
                    tools=[_tool_param(t) for t in tools] if tools else openai.omit,
                    tool_choice=_tool_choice(tool_choice) if tools else openai.omit,
                    **options,
                )
            except openai.APIStatusError as exc:
                if self._adjust(exc, adjusted, temperature, streaming=False):
                    continue
                raise self._refusal(translate_error(exc, self._config), tools) from exc
            except openai.APIError as exc:
                raise translate_error(exc, self._config) from exc
            return self._reply(response)

    def _refusal(self, error: LLMError, tools: Sequence[Tool]) -> LLMError:
        """``error``, or :class:`ToolsUnsupported` (remembered) when it refuses the tools."""
        if not tools or not refuses_tools(error):
            return error
        self._profile.tools = False
        return ToolsUnsupported(
            f"{error.message} (tool calling refused; DIALECTIC_TOOL_MODE=prompt avoids it)",
            usage=error.usage,
            status_code=error.status_code,
        )

    @metrics.llm_stream
    async def _pieces(
        self,
        stream: TextStream,
        messages: list[Message],
        max_tokens: int | None,
        temperature: float | None,
    ) -> AsyncGenerator[str, None]:
        response = await self._open_stream(messages, max_tokens, temperature)
        stream.usage = Usage(requests=1)
        thinking = ThinkFilter()
        try:
            async for chunk in response:
                if chunk.usage is not None:  # the last chunk (some servers: every chunk)
                    stream.usage = Usage(
                        chunk.usage.prompt_tokens, chunk.usage.completion_tokens, 1
                    )
                for choice in chunk.choices:
                    if choice.finish_reason is not None:
                        stream.finish_reason = choice.finish_reason
                    if choice.delta.content and (piece := thinking.feed(choice.delta.content)):
                        yield piece
            if tail := thinking.flush():
                yield tail
        except openai.APIError as exc:
            raise translate_error(exc, self._config) from exc
        finally:
            await response.close()

    async def _open_stream(
        self, messages: list[Message], max_tokens: int | None, temperature: float | None
    ) -> openai.AsyncStream[ChatCompletionChunk]:
        adjusted: set[str] = set()
        while True:
            options = self._options(max_tokens, temperature)
            stream_options: ChatCompletionStreamOptionsParam | openai.Omit = (
                {"include_usage": True} if self._profile.stream_usage else openai.omit
            )
            try:
                return await self._client.chat.completions.create(
                    model=self._config.model,
                    messages=[_param(m) for m in messages],
                    stream=True,
                    stream_options=stream_options,
                    **options,
                )
            except openai.APIStatusError as exc:
                if self._adjust(exc, adjusted, temperature, streaming=True):
                    continue
                raise translate_error(exc, self._config) from exc
            except openai.APIError as exc:
                raise translate_error(exc, self._config) from exc

    def _limit(self, max_tokens: int | None) -> int:
        return max_tokens or self._config.max_output_tokens

    def _options(self, max_tokens: int | None, temperature: float | None) -> _Options:
        limit = self._limit(max_tokens)
        chosen = temperature if temperature is not None else self._config.temperature
        return {
            "max_tokens": limit if self._profile.token_param == "max_tokens" else openai.omit,
            "max_completion_tokens": (
                limit if self._profile.token_param == "max_completion_tokens" else openai.omit
            ),
            "temperature": (
                chosen if chosen is not None and self._profile.send_temperature else openai.omit
            ),
        }

    def _adjust(
        self,
        exc: openai.APIStatusError,
        adjusted: set[str],
        temperature: float | None,
        *,
        streaming: bool,
    ) -> bool:
        """Drop or rename the parameter a 400 names; False when there is none to change."""
        if exc.status_code not in (400, 422):
            return False
        detail = error_detail(exc).lower()
        profile = self._profile
        if "max_completion_tokens" in detail and "tokens" not in adjusted:
            adjusted.add("tokens")
            profile.token_param = (
                "max_tokens"
                if profile.token_param == "max_completion_tokens"
                else "max_completion_tokens"
            )
            return True
        sent_temperature = temperature is not None or self._config.temperature is not None
        if "temperature" in detail and sent_temperature and profile.send_temperature:
            profile.send_temperature = False
            return True
        if streaming and "stream_options" in detail and profile.stream_usage:
            profile.stream_usage = False
            return True
        return False

    def _reply(self, response: ChatCompletion) -> Reply:
        usage = Usage(requests=1)
        if response.usage is not None:
            usage = Usage(response.usage.prompt_tokens, response.usage.completion_tokens, 1)
        if not response.choices:
            raise LLMOutputInvalid(
                f"{self._where} answered with no choices", raw="", attempts=1, usage=usage
            )
        choice = response.choices[0]
        if choice.message.refusal:
            raise LLMOutputInvalid(
                f"{self._where} refused: {choice.message.refusal}",
                raw=choice.message.refusal,
                attempts=1,
                usage=usage,
            )
        calls = tuple(
            ToolCall(call.id, call.function.name, call.function.arguments or "")
            for call in choice.message.tool_calls or ()
            if call.type == "function"
        )
        return Reply(choice.message.content or "", usage, choice.finish_reason, calls)


class _Options(TypedDict):
    """Keyword arguments for ``chat.completions.create``: the token limit, the temperature."""

    max_tokens: int | openai.Omit
    max_completion_tokens: int | openai.Omit
    temperature: float | openai.Omit


def _param(message: Message) -> ChatCompletionMessageParam:
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "user":
        return {"role": "user", "content": message.content}
    if message.role == "tool":
        call_id = message.tool_call_id or ""
        return {"role": "tool", "content": message.content, "tool_call_id": call_id}
    if message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in message.tool_calls
            ],
        }
    return {"role": "assistant", "content": message.content}


def _tool_param(tool: Tool) -> ChatCompletionToolParam:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    }


def _tool_choice(choice: ToolChoice) -> ChatCompletionToolChoiceOptionParam | openai.Omit:
    return openai.omit if choice is None else choice


def _response_format(
    output: OutputFormat | None,
) -> completion_create_params.ResponseFormat | openai.Omit:
    if output is None or output.mode == "text":
        return openai.omit  # not even {"type": "text"}: some servers refuse any response_format
    if output.mode == "json_object":
        return {"type": "json_object"}
    return {
        "type": "json_schema",
        "json_schema": {"name": output.name, "schema": output.schema, "strict": output.strict},
    }


def error_detail(exc: openai.APIStatusError) -> str:
    """The endpoint's own error message (OpenAI's envelope, Ollama's string, or the body)."""
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if isinstance(body.get("detail"), str):
            return str(body["detail"])
    if isinstance(body, str) and body:
        return body[:500]
    return exc.message


def translate_error(exc: openai.APIError, config: LLMConfig) -> LLMError:
    """The :mod:`.errors` error for what the ``openai`` client raised (after its retries)."""
    where = f"LLM {config.model} at {config.base_url}"
    retries = f"{config.max_retries} retries"
    if isinstance(exc, openai.APITimeoutError):
        return LLMUnavailable(
            f"{where} did not answer within {config.timeout:g}s (LLM_TIMEOUT_SECONDS), "
            f"{retries} included"
        )
    if isinstance(exc, openai.APIConnectionError):
        return LLMUnavailable(f"{where} is unreachable ({retries} included): {exc}")
    if not isinstance(exc, openai.APIStatusError):
        return LLMUnavailable(f"{where} failed: {exc}")
    status, detail = exc.status_code, error_detail(exc)
    if status in (401, 403):
        hint = f"check {config.setting('API_KEY')}"
    elif status == 404:
        hint = (
            f"check {config.setting('MODEL')} (on Ollama, pull the model first) and that "
            f"{config.setting('BASE_URL')} ends in /v1"
        )
    elif status in _TRANSIENT or status >= 500:
        hint = f"{retries} included"
    else:
        return LLMRequestRejected(
            f"{where} refused the request ({status}): {detail}", status_code=status
        )
    return LLMUnavailable(f"{where} answered {status}: {detail}; {hint}", status_code=status)
