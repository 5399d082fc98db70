"""``/``: the overview — is memory being made, and if not, why — and what this key reaches."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Form, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import RedirectResponse, Response

from ...db.repositories.explorer import ExplorerRepository
from ...db.session import unit_of_work
from ...embeddings import Embedder
from ...queue import retry_jobs
from ...settings import Settings
from ..browser import CsrfChecked, Viewer, ViewerDep
from ..dispatch import ApiError
from ..render import page

router = APIRouter(include_in_schema=False)

USAGE_WINDOW = timedelta(hours=24)
EMBED_PROBE_SECONDS = 2.0


@router.get("/")
async def overview(request: Request, viewer: ViewerDep, page_no: int = 1) -> Response:
    p = viewer.principal
    if not p.admin:
        return await _scoped(request, viewer)
    status = await viewer.api.get("/status")
    workspaces = await viewer.api.post("/v3/workspaces/list", {}, page=max(page_no, 1), size=20)
    factory: async_sessionmaker[AsyncSession] = request.app.state.session_factory
    async with unit_of_work(factory) as db:
        repo = ExplorerRepository(db)
        usage = await repo.token_usage(USAGE_WINDOW)
        backlog = await repo.backlog_by_kind()
    return page(
        request,
        viewer,
        "overview.html",
        status=200,
        s=status,
        usage=usage,
        backlog=backlog,
        embedder=await _probe_embedder(request.app.state.embedder, request.app.state.settings),
        workspaces=workspaces,
        retried=request.query_params.get("retried"),
    )


async def _scoped(request: Request, viewer: Viewer) -> Response:
    """A workspace, peer or session key: where it can go (the API decides what it sees)."""
    p = viewer.principal
    w = p.workspace or ""
    queue: Any = None
    if p.workspace_level:
        queue = await viewer.api.get(f"/v3/workspaces/{w}/queue/status")
    sessions: Any = None
    if p.peer is not None:
        sessions = await viewer.api.post(f"/v3/workspaces/{w}/peers/{p.peer}/sessions", {})
    return page(request, viewer, "overview_scoped.html", queue=queue, sessions=sessions)


async def _probe_embedder(embedder: Embedder, settings: Settings) -> dict[str, Any]:
    """Whether the local embedder answers now (one short text, in this process), and how
    fast. A remote one is not called on every page view: the workers' reports say whether
    it answered them (the LLM panel)."""
    if settings.embedding_provider != "local":
        return {"ok": None}
    started = time.perf_counter()
    try:
        async with asyncio.timeout(EMBED_PROBE_SECONDS):
            await embedder.embed(["status probe"])
    except Exception as exc:  # any failure is the answer shown
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


@router.post("/ui/jobs/retry", dependencies=[CsrfChecked])
async def retry(request: Request, viewer: ViewerDep, job_id: int = Form()) -> Response:
    """Retry one failed job: an operator's action, for admin keys only (as /status is)."""
    if not viewer.principal.admin:
        raise ApiError.of(401, "Resource requires admin privileges")
    factory: async_sessionmaker[AsyncSession] = request.app.state.session_factory
    async with unit_of_work(factory) as db:
        outcome = await retry_jobs(db, [job_id])
    done = ",".join(f"{k}:{v}" for k, v in outcome.items()) or "none"
    return RedirectResponse(f"/?retried={job_id}-{done}", status_code=303)
