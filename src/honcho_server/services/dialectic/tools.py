"""The agent's read-only tools: their descriptions for the model and what they do.

Every tool reads only what the chat may read (:class:`ConclusionAccess`,
:class:`MessageAccess`), in its own short unit of work, after any embedding is done. A tool
that fails answers the model with an ``Error: …`` text instead of failing the chat.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ...db.repositories.dialectic import ChatMessage, DialecticRepository
from ...db.session import unit_of_work
from ...embeddings import Embedder
from ...errors import HonchoError
from ...llm import Tool, ToolCall, parse_arguments
from ...schemas.search import MessageSearchOptions
from ...tokens import count_tokens, encoding
from .. import semantic
from ..search import Target, search
from .evidence import EvidenceLog
from .memory import ChatMemory
from .render import conclusion_lines, message_lines

log = logging.getLogger(__name__)

Factory = async_sessionmaker[AsyncSession]
Args = dict[str, Any]

MAX_RESULT_TOKENS = 8192
CONTEXT_RADIUS = 2
ALL_LEVELS = ("explicit", "deductive", "inductive", "contradiction")


def _schema(properties: dict[str, Any], required: Sequence[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


_QUERY = {"type": "string", "description": "What to look for, in natural language"}

SEARCH_MEMORY = Tool(
    "search_memory",
    "Semantic search over the conclusions (facts, deductions, patterns) recorded about the "
    "peer. Start here.",
    _schema(
        {"query": _QUERY, "top_k": {"type": "integer", "minimum": 1, "maximum": 40}}, ["query"]
    ),
)
SEARCH_MESSAGES = Tool(
    "search_messages",
    "Search the conversation messages by meaning and keywords; each hit comes with the "
    "messages around it.",
    _schema(
        {"query": _QUERY, "limit": {"type": "integer", "minimum": 1, "maximum": 20}}, ["query"]
    ),
)
GREP_MESSAGES = Tool(
    "grep_messages",
    "Case-insensitive exact text search over messages, newest first. Use it to count or "
    "list every mention of something.",
    _schema(
        {
            "text": {"type": "string", "description": "The text to find"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 30},
            "context": {"type": "integer", "minimum": 0, "maximum": 2},
        },
        ["text"],
    ),
)
DATE_RANGE = Tool(
    "get_messages_by_date_range",
    "Messages sent between two ISO 8601 dates (either may be omitted).",
    _schema(
        {
            "after": {"type": "string", "description": "ISO 8601 date or datetime"},
            "before": {"type": "string", "description": "ISO 8601 date or datetime"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50},
            "order": {"type": "string", "enum": ["asc", "desc"]},
        },
        [],
    ),
)
OBSERVATION_CONTEXT = Tool(
    "get_observation_context",
    "The messages around the given message ids (e.g. the sources of a conclusion).",
    _schema({"message_ids": {"type": "array", "items": {"type": "string"}}}, ["message_ids"]),
)
REASONING_CHAIN = Tool(
    "get_reasoning_chain",
    "The premises and source messages behind a derived conclusion, by its id.",
    _schema({"conclusion_id": {"type": "string"}}, ["conclusion_id"]),
)

MINIMAL_TOOLS = (SEARCH_MEMORY, SEARCH_MESSAGES)


def tools_for(*, minimal: bool, allowlisted: bool) -> list[Tool]:
    """The tools a level offers; the reasoning chain is withheld under an allowlist."""
    if minimal:
        return list(MINIMAL_TOOLS)
    full = [*MINIMAL_TOOLS, GREP_MESSAGES, DATE_RANGE, OBSERVATION_CONTEXT]
    return full if allowlisted else [*full, REASONING_CHAIN]


class ToolError(ValueError):
    """Bad arguments: told to the model."""


class ToolRunner:
    def __init__(
        self, factory: Factory, embedder: Embedder, memory: ChatMemory, log: EvidenceLog
    ) -> None:
        self._factory = factory
        self._embedder = embedder
        self._memory = memory
        self._log = log
        self._handlers: dict[str, Callable[[Args], Awaitable[str]]] = {
            SEARCH_MEMORY.name: self.search_memory,
            SEARCH_MESSAGES.name: self.search_messages,
            GREP_MESSAGES.name: self.grep_messages,
            DATE_RANGE.name: self.date_range,
            OBSERVATION_CONTEXT.name: self.observation_context,
            REASONING_CHAIN.name: self.reasoning_chain,
        }

    async def run(self, call: ToolCall, offered: Sequence[Tool]) -> str:
        """The tool's answer for the model (an ``Error: …`` text when it failed)."""
        if call.name not in {tool.name for tool in offered}:
            return f"Error: there is no tool named {call.name!r}."
        try:
            args = parse_arguments(call)
        except ValueError:
            return "Error: the arguments must be a JSON object."
        try:
            text = await self._handlers[call.name](args)
        except (ToolError, HonchoError) as exc:
            return f"Error: {exc}"
        self._log.tool_call(call.name, args)
        return truncate(text, MAX_RESULT_TOKENS)

    async def run_named(self, name: str, args: Args) -> str:
        """A tool run by the server itself (prompt mode); logged like a model's call."""
        return await self.run(ToolCall("server", name, _json(args)), [*MINIMAL_TOOLS])

    # ---- conclusions --------------------------------------------------------------------

    async def search_memory(self, args: Args) -> str:
        query = _text(args, "query")
        top_k = _int(args, "top_k", default=20, low=1, high=40)
        vector = await semantic.embed_optional(self._embedder, query, too_long="skip")
        if vector is None:
            raise ToolError("semantic search is unavailable right now (embedding failed)")
        access = self._memory.conclusions
        if access.sessions is not None and not access.sessions:
            return "No conclusions found."
        async with unit_of_work(self._factory) as db:
            rows = await DialecticRepository(db).nearest_conclusions(
                access, vector, ALL_LEVELS, top_k
            )
        self._log.conclusions(rows)
        return "\n".join(conclusion_lines(rows)) or "No conclusions found."

    async def reasoning_chain(self, args: Args) -> str:
        conclusion_id = _text(args, "conclusion_id")
        access = self._memory.conclusions
        async with unit_of_work(self._factory) as db:
            repo = DialecticRepository(db)
            row = await repo.conclusion(access, conclusion_id)
            if row is None:
                raise ToolError(f"no conclusion {conclusion_id!r} in this memory")
            sources = list(row.source_message_ids or [])
            messages = await repo.messages_by_public_id(self._memory.messages, sources)
        self._log.conclusions([row])
        self._log.messages(messages)
        lines = [*conclusion_lines([row])]
        premises = list(row.premises or [])
        if premises:
            lines += ["Premises:", *(f"- {p}" for p in premises)]
        if messages:
            lines += ["Source messages:", *message_lines(messages)]
        return "\n".join(lines)

    # ---- messages -----------------------------------------------------------------------

    async def search_messages(self, args: Args) -> str:
        query = _text(args, "query")
        limit = _int(args, "limit", default=10, low=1, high=20)
        access = self._memory.messages
        if access.is_empty():
            return "No messages found."
        filters = None if access.sessions is None else {"session_id": {"in": list(access.sessions)}}
        options = MessageSearchOptions(query=query, filters=filters, limit=limit)
        async with unit_of_work(self._factory) as db:  # search embeds before its first statement
            hits = await search(
                db, Target(workspace=access.workspace), options, embedder=self._embedder
            )
            rows = await DialecticRepository(db).messages_around(
                access, [m.public_id for m in hits], CONTEXT_RADIUS
            )
        return self._messages(rows)

    async def grep_messages(self, args: Args) -> str:
        text = _text(args, "text")
        limit = _int(args, "limit", default=10, low=1, high=30)
        radius = _int(args, "context", default=1, low=0, high=2)
        access = self._memory.messages
        if access.is_empty():
            return "No messages found."
        async with unit_of_work(self._factory) as db:
            repo = DialecticRepository(db)
            hits = await repo.grep(access, text, limit)
            rows = hits
            if radius and hits:
                rows = await repo.messages_around(access, [h.public_id for h in hits], radius)
        found = f"{len(hits)} message(s) contain {text!r}" + (
            " (limit reached)" if len(hits) == limit else ""
        )
        return found + ".\n" + self._messages(rows) if hits else f"No message contains {text!r}."

    async def date_range(self, args: Args) -> str:
        after = _date(args, "after")
        before = _date(args, "before")
        limit = _int(args, "limit", default=20, low=1, high=20)
        order = args.get("order", "asc")
        if order not in ("asc", "desc"):
            raise ToolError("order must be 'asc' or 'desc'")
        access = self._memory.messages
        if access.is_empty():
            return "No messages found."
        async with unit_of_work(self._factory) as db:
            rows = await DialecticRepository(db).in_date_range(
                access, after, before, limit, newest_first=order == "desc"
            )
        return self._messages(rows, keep_order=True)

    async def observation_context(self, args: Args) -> str:
        ids = args.get("message_ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or not ids:
            raise ToolError("message_ids must be a non-empty list of message ids")
        async with unit_of_work(self._factory) as db:
            rows = await DialecticRepository(db).messages_around(
                self._memory.messages, ids[:20], CONTEXT_RADIUS
            )
        return self._messages(rows)

    def _messages(self, rows: list[ChatMessage], *, keep_order: bool = False) -> str:
        self._log.messages(rows)
        return "\n".join(message_lines(rows, grouped=not keep_order)) or "No messages found."


# ---- arguments ------------------------------------------------------------------------------


def _text(args: Args, name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ToolError(f"{name} must be a non-empty string")
    return value.strip()


def _int(args: Args, name: str, *, default: int, low: int, high: int) -> int:
    value = args.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolError(f"{name} must be an integer")
    return max(low, min(high, int(value)))


def _date(args: Args, name: str) -> datetime | None:
    value = args.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ToolError(f"{name} must be an ISO 8601 date")
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ToolError(f"{name} must be an ISO 8601 date, not {value!r}") from exc
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _json(args: Args) -> str:
    return json.dumps(args)


def truncate(text: str, max_tokens: int) -> str:
    """``text`` cut to ``max_tokens`` tokens (marked when cut)."""
    if count_tokens(text) <= max_tokens:
        return text
    enc = encoding()
    return enc.decode(enc.encode_ordinary(text)[:max_tokens]) + "\n… (cut)"
