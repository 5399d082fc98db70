"""``/ui/w/{w}/search``: message search over a workspace, a session or a peer's messages —
the API's ranked hits (hybrid: semantic and keyword lists fused), each with its rank, its
semantic similarity to the query, and where it came from."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import Response

from ...db.repositories.explorer import ExplorerRepository
from ...db.session import unit_of_work
from ...embeddings import Embedder
from ...settings import Settings
from ..browser import ViewerDep
from ..render import page

router = APIRouter(include_in_schema=False)

LIMIT = 20


@router.get("/ui/w/{w}/search")
async def search(
    request: Request,
    viewer: ViewerDep,
    w: str,
    q: str = "",
    session: str = "",
    peer: str = "",
) -> Response:
    hits: list[dict[str, Any]] = []
    scores: dict[str, float] = {}
    if q.strip():
        path = f"/v3/workspaces/{w}/search"
        if session.strip():
            path = f"/v3/workspaces/{w}/sessions/{session.strip()}/search"
        elif peer.strip():
            path = f"/v3/workspaces/{w}/peers/{peer.strip()}/search"
        hits = await viewer.api.post(path, {"query": q, "limit": LIMIT})
        scores = await _similarity(request, w, q, [h["id"] for h in hits])
    return page(
        request,
        viewer,
        "search.html",
        ws=w,
        q=q,
        session=session,
        peer=peer,
        hits=hits,
        scores=scores,
        semantic=bool(scores) or _semantic_on(request),
    )


def _semantic_on(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    return settings.embed_messages


async def _similarity(request: Request, w: str, q: str, ids: list[str]) -> dict[str, float]:
    """Cosine similarity of each hit to the query (the hits are the ones the key may read)."""
    if not ids or not _semantic_on(request):
        return {}
    embedder: Embedder = request.app.state.embedder
    try:
        [vector] = await embedder.embed([q])
    except Exception:  # the API degrades to keywords then; so does the score column
        return {}
    factory: async_sessionmaker[AsyncSession] = request.app.state.session_factory
    async with unit_of_work(factory) as db:
        return await ExplorerRepository(db).message_similarity(w, ids, vector)
