"""Routes: message search in a workspace, a session, or among one peer's messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from ...auth import checks
from ...db.repositories.messages import MessageRow
from ...embeddings import Embedder
from ...schemas.messages import Message
from ...schemas.search import MessageSearchOptions
from ...services import search
from ...services.messages import render_list
from ..deps import DbSession, EmbedderDep, PrincipalDep, ReadPoolDep, SettingsDep
from ..presence import PEER_PRESENT

router = APIRouter(tags=["search"])


async def _message_embedder(settings: SettingsDep, embedder: EmbedderDep) -> Embedder | None:
    """The embedder when messages are embedded (EMBED_MESSAGES): otherwise no semantic list."""
    return embedder if settings.embed_messages else None


MessageEmbedder = Annotated[Embedder | None, Depends(_message_embedder)]


# ``db`` is the request's unit of work: a search with filters of its own, or keywords only,
# sets its planner settings for its transaction. A search of the route's own scope runs its
# one statement on ``reads`` (``ReadPool.search``) and sends nothing through ``db``.


def _rendered(rows: list[MessageRow]) -> Response:
    """``list[Message]`` (the declared response model) written straight from the rows."""
    return Response(render_list(rows), media_type="application/json")


@router.post("/workspaces/{workspace_id}/search", response_model=list[Message])
async def search_workspace(
    workspace_id: str,
    body: MessageSearchOptions,
    db: DbSession,
    reads: ReadPoolDep,
    embedder: MessageEmbedder,
) -> Response:
    target = search.Target(workspace_id)
    return _rendered(await search.search(db, target, body, embedder=embedder, reads=reads))


@router.post(
    "/workspaces/{workspace_id}/sessions/{session_id}/search", response_model=list[Message]
)
async def search_session(
    workspace_id: str,
    session_id: str,
    body: MessageSearchOptions,
    db: DbSession,
    reads: ReadPoolDep,
    embedder: MessageEmbedder,
    principal: PrincipalDep,
) -> Response:
    if body.scope is not None:
        checks.require_workspace_key(principal)
    target = search.Target(workspace_id, session=session_id)
    return _rendered(await search.search(db, target, body, embedder=embedder, reads=reads))


@router.post(
    "/workspaces/{workspace_id}/peers/{peer_id}/search",
    response_model=list[Message],
    dependencies=PEER_PRESENT,
)
async def search_peer(
    workspace_id: str,
    peer_id: str,
    body: MessageSearchOptions,
    db: DbSession,
    reads: ReadPoolDep,
    embedder: MessageEmbedder,
    principal: PrincipalDep,
) -> Response:
    if body.scope is not None:
        checks.require_workspace_key(principal)
    target = search.Target(workspace_id, peer=peer_id)
    return _rendered(await search.search(db, target, body, embedder=embedder, reads=reads))
