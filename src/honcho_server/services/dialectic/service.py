"""Peer chat and workspace chat (BEHAVIOUR §18): check, get-or-create, gather, answer.

Everything that can fail with a status code — bad input (422), no LLM (503), unknown
target / session / scope (404) — is settled before an answer (or a stream) starts. No
transaction is open while a model runs: the path peer is committed in its own unit of work,
the memory is read in another, and each tool call opens its own.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ...embeddings import Embedder
from ...errors import HonchoError
from ...llm import LLMClient, LLMError, LLMNotConfigured, LLMRegistry, LLMUnavailable
from ...schemas.chat import DialecticResponse
from ...settings import Settings
from .. import semantic
from . import sse
from .agent import Agent
from .evidence import EvidenceLog
from .levels import plan_for
from .memory import ensure_peer, gather
from .request import ChatRequest
from .tools import ToolRunner

log = logging.getLogger(__name__)

NO_LLM = (
    "Dialectic chat needs an LLM: set LLM_BASE_URL/LLM_MODEL (or DIALECTIC_BASE_URL/"
    "DIALECTIC_MODEL)"
)


class ChatUnavailable(HonchoError):
    status = 503


class ChatFailed(HonchoError):
    status = 502


@dataclass(frozen=True)
class ChatDeps:
    factory: async_sessionmaker[AsyncSession]
    settings: Settings
    embedder: Embedder
    llm: LLMRegistry


async def answer(deps: ChatDeps, req: ChatRequest) -> DialecticResponse:
    agent, evidence = await _start(deps, req)
    try:
        text = await agent.answer()
    except LLMError as exc:
        raise _failure(exc) from exc
    if req.include_evidence:
        return DialecticResponse(content=text or None, evidence=evidence.evidence())
    return DialecticResponse(content=text or None)


async def stream(deps: ChatDeps, req: ChatRequest) -> AsyncIterator[bytes]:
    """Checks everything, then returns the SSE body (the agent runs as it is read)."""
    agent, evidence = await _start(deps, req)

    async def events() -> AsyncIterator[bytes]:
        try:
            async for piece in agent.pieces():
                yield sse.delta(piece)
        except Exception as exc:  # after the 200: report in the stream, end it, never hang
            log.exception("dialectic chat failed while streaming")
            detail = _failure(exc).detail if isinstance(exc, LLMError) else "chat failed"
            yield sse.error(detail)
            return
        payload = evidence.evidence().model_dump(mode="json") if req.include_evidence else None
        yield sse.done(payload)

    return events()


async def _start(deps: ChatDeps, req: ChatRequest) -> tuple[Agent, EvidenceLog]:
    client = _client(deps.llm)
    plan = plan_for(req.level, client.config.max_output_tokens)
    await ensure_peer(deps.factory, req)
    vector = await semantic.embed_optional(deps.embedder, req.query, too_long="skip")
    evidence = EvidenceLog()
    memory = await gather(deps.factory, req, deps.settings, vector, plan.prefetch, evidence)
    runner = ToolRunner(deps.factory, deps.embedder, memory, evidence)
    agent = Agent(
        client,
        runner,
        memory,
        req,
        plan,
        tool_mode=deps.settings.dialectic_tool_mode,
        max_input_tokens=deps.settings.dialectic_max_input_tokens,
    )
    return agent, evidence


def _client(registry: LLMRegistry) -> LLMClient:
    try:
        return registry.client("dialectic")
    except LLMNotConfigured as exc:
        raise ChatUnavailable(f"{NO_LLM} ({exc.message})") from exc


def _failure(exc: LLMError) -> HonchoError:
    if isinstance(exc, LLMUnavailable):
        return ChatUnavailable(f"The dialectic model is unavailable: {exc.message}")
    return ChatFailed(f"The dialectic model failed to answer: {exc.message}")
