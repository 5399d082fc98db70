"""Session context, peer representation and peer context."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ...errors import Invalid
from ...schemas.representation import PeerContext, PeerRepresentationGet, RepresentationResponse
from ...schemas.summaries import SessionContext
from ...services.context.budget import MAX_CONTEXT_TOKENS
from ...services.context.service import ContextRequest, session_context
from ...services.representation import peer_views
from ..deps import DbSession

router = APIRouter(tags=["context"])

TopK = Annotated[int | None, Query(ge=1, le=100)]
MaxDistance = Annotated[float | None, Query(ge=0.0, le=1.0)]
MaxConclusions = Annotated[int | None, Query(ge=1, le=100)]


@router.get(
    "/workspaces/{workspace_id}/sessions/{session_id}/context", response_model=SessionContext
)
async def get_session_context(
    workspace_id: str,
    session_id: str,
    db: DbSession,
    tokens: Annotated[int | None, Query(le=MAX_CONTEXT_TOKENS)] = None,
    search_query: str | None = None,
    summary: bool = True,
    peer_target: str | None = None,
    peer_perspective: str | None = None,
    limit_to_session: bool = False,
    search_top_k: TopK = None,
    search_max_distance: MaxDistance = None,
    include_most_frequent: bool = False,
    max_conclusions: MaxConclusions = None,
) -> SessionContext:
    if peer_perspective is not None and peer_target is None:
        raise Invalid("peer_perspective requires peer_target")
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
        )
    req = ContextRequest(tokens=tokens, summary=summary)
    return await session_context(db, workspace_id, session_id, req, view)


@router.post(
    "/workspaces/{workspace_id}/peers/{peer_id}/representation",
    response_model=RepresentationResponse,
)
async def get_representation(
    workspace_id: str, peer_id: str, body: PeerRepresentationGet, db: DbSession
) -> RepresentationResponse:
    text = await peer_views.representation(db, workspace_id, peer_id, body)
    return RepresentationResponse(representation=text)


@router.get("/workspaces/{workspace_id}/peers/{peer_id}/context", response_model=PeerContext)
async def get_peer_context(
    workspace_id: str,
    peer_id: str,
    db: DbSession,
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
    )
