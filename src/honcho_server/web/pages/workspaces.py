"""``/ui/w/{w}``: a workspace — its metadata and configuration, webhooks, peers and sessions
(each paged, with a search box over ids)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from ..browser import ViewerDep
from ..dispatch import Api, ApiError
from ..render import page

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25


@router.get("/ui/w/{w}")
async def workspace(
    request: Request,
    viewer: ViewerDep,
    w: str,
    q: str = "",
    peers_page: int = 1,
    sessions_page: int = 1,
    active: str = "",
) -> Response:
    p = viewer.principal
    if not p.workspace_level and p.workspace == w:  # a narrow key starts at what it reaches
        if p.peer is not None:
            return RedirectResponse(f"/ui/w/{w}/p/{p.peer}", status_code=303)
        if p.session is not None:
            return RedirectResponse(f"/ui/w/{w}/s/{p.session}", status_code=303)
    api = viewer.api
    info = await api.get(f"/v3/workspaces/{w}")
    filters: dict[str, Any] = {"id": {"icontains": q}} if q else {}
    session_filters = dict(filters)
    if active in ("yes", "no"):
        session_filters["is_active"] = active == "yes"
    peers = await _page(api, f"/v3/workspaces/{w}/peers/list", filters, peers_page)
    sessions = await _page(api, f"/v3/workspaces/{w}/sessions/list", session_filters, sessions_page)
    webhooks = await api.get(f"/v3/workspaces/{w}/webhooks", page=1, size=10)
    params = {"q": q, "peers_page": peers_page, "sessions_page": sessions_page, "active": active}
    return page(
        request,
        viewer,
        "workspace.html",
        ws=w,
        info=info,
        peers=peers,
        sessions=sessions,
        webhooks=webhooks,
        q=q,
        active=active,
        params=params,
    )


async def _page(api: Api, path: str, filters: dict[str, Any], number: int) -> Any:
    body = {"filters": filters} if filters else {}
    try:
        return await api.post(path, body, page=max(number, 1), size=PAGE_SIZE)
    except ApiError as exc:
        if exc.status == 422:  # a search the filter language refuses: show nothing found
            return {"items": [], "total": 0, "page": 1, "pages": 0, "error": exc.detail}
        raise
