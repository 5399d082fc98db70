"""Session context, peer representation and peer context."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from ...embeddings import Embedder
from ...errors import Invalid
from ...schemas.representation import PeerContext, PeerRepresentationGet, RepresentationResponse
from ...schemas.summaries import SessionContext
from ...services.context.budget import MAX_CONTEXT_TOKENS
from ...services.context.service import ContextRequest, session_context
from ...services.representation import peer_views
from ..deps import DbSession, EmbedderDep, read_session
from ..presence import PEER_PRESENT

router = APIRouter(tags=["context"])

TopK = Annotated[int | None, Query(ge=1, le=100)]
MaxDistance = Annotated[float | None, Query(ge=0.0, le=1.0)]
MaxConclusions = Annotated[int | None, Query(ge=1, le=100)]
Tokens = Annotated[int | None, Query(ge=0, le=MAX_CONTEXT_TOKENS)]
"""Upstream declares only the maximum (and a negative budget there means "nothing"); a negative
budget is refused here (422), 0 keeps meaning no summary and no messages (only a peer view)."""


@router.get(
    "/workspaces/{workspace_id}/sessions/{session_id}/context", response_model=SessionContext
)
async def get_session_context(
    workspace_id: str,
    session_id: str,
    request: Request,
    embedder: EmbedderDep,
    tokens: Tokens = None,
    search_query: str | None = None,
    summary: bool = True,
    peer_target: str | None = None,
    peer_perspective: str | None = None,
    limit_to_session: bool = False,
    search_top_k: TopK = None,
    search_max_distance: MaxDistance = None,
    include_most_frequent: bool = False,
    max_conclusions: MaxConclusions = None,
    sessions: Annotated[list[str] | None, Query(include_in_schema=False)] = None,
    scope: Annotated[str | None, Query(include_in_schema=False)] = None,
) -> Response:
    # Who may name which peer, session or scope here is decided by the guard (auth.policy).
    _check_perspective(session_id, peer_target, peer_perspective, limit_to_session, sessions, scope)
    # ReadDb, opened here: cheaper than a generator dependency. Its connection is taken at the
    # first statement, so none is held while a search query is embedded.
    async with read_session(request) as db:
        return await _session_context(
            db,
            workspace_id,
            session_id,
            embedder,
            tokens=tokens,
            summary=summary,
            peer_target=peer_target,
            peer_perspective=peer_perspective,
            limit_to_session=limit_to_session,
            include_most_frequent=include_most_frequent,
            max_conclusions=max_conclusions,
            scope=scope,
            sessions=sessions,
            search=peer_views.Search(search_query, search_top_k, search_max_distance),
        )


async def _session_context(
    db: AsyncSession,
    workspace_id: str,
    session_id: str,
    embedder: Embedder,
    *,
    tokens: int | None,
    summary: bool,
    peer_target: str | None,
    peer_perspective: str | None,
    limit_to_session: bool,
    include_most_frequent: bool,
    max_conclusions: int | None,
    scope: str | None,
    sessions: list[str] | None,
    search: peer_views.Search,
) -> Response:
    view = None
    if peer_target is not None:
        view = await peer_views.context_peer_view(
            db,
            workspace_id,
            session_id,
            target=peer_target,
            perspective=peer_perspective,
            limit_to_session=limit_to_session,
            include_most_frequent=include_most_frequent,
            max_conclusions=max_conclusions,
            scope=scope,
            sessions=list(dict.fromkeys(sessions)) if sessions is not None else None,
            search=search,
            embedder=embedder,
        )
    req = ContextRequest(tokens=tokens, summary=summary)
    body = await session_context(db, workspace_id, session_id, req, view)
    return Response(body, media_type="application/json")  # rendered as SessionContext


def _check_perspective(
    session: str,
    target: str | None,
    perspective: str | None,
    limit_to_session: bool,
    sessions: list[str] | None,
    scope: str | None,
) -> None:
    """The combinations of perspective options the context route accepts (422 otherwise)."""
    if target is None and (perspective is not None or sessions is not None or scope is not None):
        raise Invalid("peer_perspective, sessions and scope require peer_target")
    if scope is not None and perspective is not None:
        raise Invalid("scope and peer_perspective cannot be combined")
    if sessions is not None:
        if scope is not None or limit_to_session:
            raise Invalid("sessions cannot be combined with scope or limit_to_session")
        if session not in sessions:
            raise Invalid("sessions must include this session")


@router.post(
    "/workspaces/{workspace_id}/peers/{peer_id}/representation",
    dependencies=PEER_PRESENT,
    response_model=RepresentationResponse,
)
async def get_representation(
    workspace_id: str,
    peer_id: str,
    body: PeerRepresentationGet,
    db: DbSession,
    embedder: EmbedderDep,
) -> RepresentationResponse:
    text = await peer_views.representation(db, workspace_id, peer_id, body, embedder)
    return RepresentationResponse(representation=text)


@router.get(
    "/workspaces/{workspace_id}/peers/{peer_id}/context",
    response_model=PeerContext,
    dependencies=PEER_PRESENT,
)
async def get_peer_context(
    workspace_id: str,
    peer_id: str,
    db: DbSession,
    embedder: EmbedderDep,
    target: str | None = None,
    search_query: str | None = None,
    search_top_k: TopK = None,
    search_max_distance: MaxDistance = None,
    include_most_frequent: bool = True,
    max_conclusions: MaxConclusions = None,
) -> PeerContext:
    return await peer_views.peer_context(
        db,
        workspace_id,
        peer_id,
        target,
        include_most_frequent=include_most_frequent,
        max_conclusions=max_conclusions,
        search=peer_views.Search(search_query, search_top_k, search_max_distance),
        embedder=embedder,
    )
