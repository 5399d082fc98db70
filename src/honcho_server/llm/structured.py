"""Structured output from any chat endpoint: asking for it, falling back, validating.

Three ways to ask, from most to least reliable:

- ``json_schema``: ``response_format`` with the (strict-ready) schema; the endpoint constrains
  the answer to it. OpenAI, recent vLLM/llama.cpp/Ollama/LM Studio.
- ``json_object``: ``response_format: json_object`` and the schema in the system prompt.
- ``text``: no ``response_format``; the schema in the system prompt, the answer read
  tolerantly (:mod:`.repair`).

``auto`` starts with ``json_schema``. An endpoint that refuses a ``response_format`` (a 400
or 422, or a 5xx that names the format) is asked again the next way down. One that accepts
``json_schema`` but ignores it (the answer is not even JSON) gets the schema in the prompt
from then on. What works is remembered per (endpoint, model) for the process. Whatever the
mode, an answer that does not validate gets one corrective retry showing the model its error.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from .config import StructuredMode
from .endpoints import EndpointProfile
from .errors import LLMError, LLMOutputInvalid, LLMRequestRejected, LLMUnavailable
from .messages import Message, assistant, system, user
from .reasoning import strip_reasoning
from .repair import RepairError, parse_model
from .results import ConcreteMode, Reply, Structured

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)

CHAIN: tuple[ConcreteMode, ...] = ("json_schema", "json_object", "text")
MAX_ECHO_CHARS = 4000
_FORMAT_WORDS = re.compile(r"response_format|json_schema|json_object|schema|grammar", re.I)


@dataclass(frozen=True)
class OutputFormat:
    """How one request asks for structure. ``schema`` is strict-ready when ``strict``."""

    mode: ConcreteMode
    name: str
    schema: dict[str, Any]
    strict: bool


#: Sends one request: the messages, and the format to put in ``response_format``.
Send = Callable[[list[Message], OutputFormat], Awaitable[Reply]]


async def run_structured(
    send: Send,
    messages: list[Message],
    schema: type[T],
    *,
    configured: StructuredMode,
    profile: EndpointProfile,
    where: str,
) -> Structured[T]:
    """Ask through ``send`` until the answer validates as ``schema`` (one corrective retry)."""
    modes: list[ConcreteMode]
    if configured == "auto":
        auto, modes = True, list(CHAIN[CHAIN.index(profile.structured_mode or "json_schema") :])
    else:
        auto, modes = False, [configured]
    asker = _Asker(send, schema, auto=auto, profile=profile, where=where)

    reply, mode = await asker.ask(lambda m: with_schema(messages, schema, m), modes)
    spent = reply.usage
    try:
        return Structured(parse_model(reply.content, schema), spent, mode, 1, raw=reply.content)
    except RepairError as exc:
        error = exc
    log.info("%s: invalid %s answer (%s); retrying once", where, schema.__name__, error)
    ignored = mode == "json_schema" and not _is_json(reply.content)
    if auto and ignored and reply.finish_reason != "length":
        log.warning(
            "%s accepted response_format json_schema but did not follow it; putting the "
            "schema in the prompt from now on",
            where,
        )
        mode = profile.structured_mode = "json_object"

    def corrective(m: ConcreteMode) -> list[Message]:
        echo = strip_reasoning(reply.content)[:MAX_ECHO_CHARS] or "(no answer)"
        return [*with_schema(messages, schema, m), assistant(echo), user(correction(error, reply))]

    try:
        second, mode = await asker.ask(corrective, modes[modes.index(mode) :] if auto else modes)
    except LLMError as exc:
        exc.with_usage(spent)
        raise
    spent += second.usage
    try:
        return Structured(parse_model(second.content, schema), spent, mode, 2, raw=second.content)
    except RepairError as exc:
        cut = ""
        if second.finish_reason == "length":
            cut = " (the answer was cut off at the output token limit)"
        raise LLMOutputInvalid(
            f"{where} did not answer with valid {schema.__name__} JSON, even after being shown "
            f"its error: {exc}{cut}",
            raw=second.content,
            attempts=2,
            usage=spent,
        ) from exc


class _Asker:
    """Sends one request, going down the chain while the endpoint refuses the format."""

    def __init__(
        self,
        send: Send,
        schema: type[BaseModel],
        *,
        auto: bool,
        profile: EndpointProfile,
        where: str,
    ) -> None:
        self._send = send
        self._schema = schema
        self._auto = auto
        self._profile = profile
        self._where = where

    async def ask(
        self, build: Callable[[ConcreteMode], list[Message]], modes: list[ConcreteMode]
    ) -> tuple[Reply, ConcreteMode]:
        for index, mode in enumerate(modes):
            try:
                reply = await self._send(build(mode), output_format(self._schema, mode))
            except (LLMRequestRejected, LLMUnavailable) as exc:
                if not self._auto:
                    raise _forced_hint(exc, mode) from exc
                if index + 1 == len(modes) or not _refuses_format(exc):
                    raise
                log.warning(
                    "%s refused response_format %s (%s); trying %s",
                    self._where,
                    mode,
                    exc.message,
                    modes[index + 1],
                )
                continue
            if self._auto and self._profile.structured_mode != mode:
                self._profile.structured_mode = mode
                log.info("%s: structured output works as %s", self._where, mode)
            return reply, mode
        raise AssertionError("no structured-output mode to try")


def _refuses_format(exc: LLMError) -> bool:
    if isinstance(exc, LLMRequestRejected):
        return True
    status = exc.status_code or 0
    return status >= 500 and bool(_FORMAT_WORDS.search(exc.message))


def _forced_hint(exc: LLMError, mode: ConcreteMode) -> LLMError:
    if not isinstance(exc, LLMRequestRejected) or mode == "text":
        return exc
    return LLMRequestRejected(
        f"{exc.message} (LLM_STRUCTURED_MODE={mode}: the endpoint may not support it; "
        "LLM_STRUCTURED_MODE=auto finds what it does support)",
        usage=exc.usage,
        status_code=exc.status_code,
    )


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


# ---- prompts and formats --------------------------------------------------------------------


def with_schema(
    messages: list[Message], schema: type[BaseModel], mode: ConcreteMode
) -> list[Message]:
    """``messages`` with the output instructions added to the system prompt (unless the
    endpoint enforces the schema itself)."""
    if mode == "json_schema":
        return list(messages)
    instruction = (
        "Answer with a single JSON value and nothing else: no explanation before or after it, "
        "no markdown code fence. It must be valid JSON (double-quoted keys and strings, no "
        "comments, no trailing commas) that conforms to this JSON Schema:\n"
        + json.dumps(prompt_schema(schema), ensure_ascii=False)
    )
    if messages and messages[0].role == "system":
        return [system(f"{messages[0].content}\n\n{instruction}"), *messages[1:]]
    return [system(instruction), *messages]


def correction(error: RepairError, reply: Reply) -> str:
    """The corrective message: what was wrong with the last answer, and what to do."""
    text = f"That answer could not be used: {error}\n\n"
    if reply.finish_reason == "length":
        text += "It was cut off at the output limit: keep the answer shorter.\n"
    return text + "Answer again with only the corrected JSON."


def output_format(schema: type[BaseModel], mode: ConcreteMode) -> OutputFormat:
    name = re.sub(r"[^A-Za-z0-9_-]", "_", schema.__name__)[:64] or "answer"
    if mode == "json_schema":
        strict, ok = strict_schema(schema)
        return OutputFormat(mode, name, strict, ok)
    return OutputFormat(mode, name, prompt_schema(schema), False)


def prompt_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema without ``title`` keywords (noise in a prompt)."""
    return _walk(schema.model_json_schema(), _drop_titles)


def strict_schema(schema: type[BaseModel]) -> tuple[dict[str, Any], bool]:
    """The schema in the form strict structured output demands (every object closed with
    ``additionalProperties: false`` and all its properties required, no ``$ref`` beside other
    keywords, no defaults), and whether that was possible: a free-form mapping
    (``dict[str, X]``) cannot be strict, so it is sent with ``strict: false``."""
    root = schema.model_json_schema()
    defs: dict[str, Any] = root.get("$defs", {})
    possible = True

    def fix(node: dict[str, Any]) -> dict[str, Any]:
        nonlocal possible
        ref = node.get("$ref")
        if isinstance(ref, str) and len(node) > 1 and ref.startswith("#/$defs/"):
            resolved = copy.deepcopy(defs[ref.removeprefix("#/$defs/")])
            node = {**_walk(resolved, fix), **{k: v for k, v in node.items() if k != "$ref"}}
        node.pop("default", None)
        if node.get("type") == "object":
            properties = node.get("properties")
            extra = node.get("additionalProperties")
            if not isinstance(properties, dict) or extra not in (None, False):
                possible = False
            else:
                node["additionalProperties"] = False
                node["required"] = list(properties)
        return node

    fixed = _walk(root, fix)
    return fixed, possible


# ---- schema walking -------------------------------------------------------------------------

_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")
_SCHEMA_VALUES = ("items", "additionalProperties", "not", "contains")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def _walk(
    node: dict[str, Any], visit: Callable[[dict[str, Any]], dict[str, Any]]
) -> dict[str, Any]:
    """A copy of the schema ``node`` with ``visit`` applied to it and every sub-schema
    (children first). Property names are never mistaken for keywords."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: _walk(v, visit) if isinstance(v, dict) else v for k, v in value.items()}
        elif key in _SCHEMA_VALUES and isinstance(value, dict):
            out[key] = _walk(value, visit)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_walk(v, visit) if isinstance(v, dict) else v for v in value]
        else:
            out[key] = copy.deepcopy(value)
    return visit(out)


def _drop_titles(node: dict[str, Any]) -> dict[str, Any]:
    node.pop("title", None)
    return node
