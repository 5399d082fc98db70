"""Routes: dialectic chat about a peer, or about a whole workspace (BEHAVIOUR §18).

No request-wide transaction: the service opens short units of work itself, so no database
connection is held while the model thinks.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from ...auth import checks
from ...schemas.chat import DialecticOptions, DialecticResponse, WorkspaceChatOptions
from ...services.dialectic import service, sse
from ...services.dialectic.request import ChatRequest, check_request
from ..deps import EmbedderDep, LLMDep, PrincipalDep, SessionFactory, SettingsDep
from ..presence import PEER_PRESENT

router = APIRouter(tags=["chat"])

_STREAMING: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "text/event-stream": {}}}
}


@router.post(
    "/workspaces/{workspace_id}/peers/{peer_id}/chat",
    dependencies=PEER_PRESENT,
    response_model=DialecticResponse,
    response_model_exclude_unset=True,
    responses=_STREAMING,
    summary="Chat",
    description=(
        "Query a Peer's representation using natural language. Performs agentic search and "
        "reasoning to comprehensively answer the query based on all latent knowledge gathered "
        "about the peer from their messages and conclusions."
    ),
)
async def chat(
    workspace_id: str,
    peer_id: str,
    body: DialecticOptions,
    factory: SessionFactory,
    settings: SettingsDep,
    embedder: EmbedderDep,
    llm: LLMDep,
    principal: PrincipalDep,
) -> DialecticResponse | StreamingResponse:
    req = check_request(workspace_id, peer_id, body)
    await _authorize(factory, principal, req)
    return await _respond(service.ChatDeps(factory, settings, embedder, llm), req)


@router.post(
    "/workspaces/{workspace_id}/chat",
    response_model=DialecticResponse,
    response_model_exclude_unset=True,
    responses=_STREAMING,
    summary="Workspace chat",
    description="Ask a question about everything the workspace's memory holds.",
)
async def workspace_chat(
    workspace_id: str,
    body: WorkspaceChatOptions,
    factory: SessionFactory,
    settings: SettingsDep,
    embedder: EmbedderDep,
    llm: LLMDep,
    principal: PrincipalDep,
) -> DialecticResponse | StreamingResponse:
    req = check_request(workspace_id, None, body)
    await _authorize(factory, principal, req)
    return await _respond(service.ChatDeps(factory, settings, embedder, llm), req)


async def _authorize(factory: SessionFactory, principal: PrincipalDep, req: ChatRequest) -> None:
    """A narrow key may only chat about sessions it can read (BEHAVIOUR §21.3)."""
    await checks.require_chat_access(
        factory,
        principal,
        req.workspace,
        session=req.session,
        allowlist=req.allowlist,
        scoped=req.scope is not None or req.scopes is not None,
    )


async def _respond(
    deps: service.ChatDeps, req: ChatRequest
) -> DialecticResponse | StreamingResponse:
    if req.stream:
        events = await service.stream(deps, req)
        return StreamingResponse(events, media_type=sse.MEDIA_TYPE)
    return await service.answer(deps, req)
