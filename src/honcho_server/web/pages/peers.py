"""``/ui/w/{w}/p/{p}``: a peer — its card (view, edit), the conclusions about it by observer
and level (create, delete; each links to its provenance), its representation with an optional
query, and its sessions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from ...schemas.conclusions import Level
from ..browser import CsrfChecked, ViewerDep
from ..render import page
from .common import lines, maybe

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
LEVELS: tuple[Level, ...] = ("explicit", "deductive", "inductive", "contradiction")


@router.get("/ui/w/{w}/p/{p}")
async def peer(
    request: Request,
    viewer: ViewerDep,
    w: str,
    p: str,
    observer: str = "",
    level: str = "",
    page_no: int = 1,
    sessions_page: int = 1,
) -> Response:
    api = viewer.api
    base = f"/v3/workspaces/{w}/peers/{p}"
    card = await api.get(f"{base}/card")  # the page's anchor: refused keys see the error page
    filters: dict[str, Any] = {"observed": p}
    if observer:
        filters["observer"] = observer
    if level in LEVELS:
        filters["level"] = level
    conclusions, conclusions_refused = await maybe(
        api.post(
            f"/v3/workspaces/{w}/conclusions/list",
            {"filters": filters},
            page=max(page_no, 1),
            size=PAGE_SIZE,
            reverse=True,
        )
    )
    sessions, sessions_refused = await maybe(
        api.post(f"{base}/sessions", {}, page=max(sessions_page, 1), size=PAGE_SIZE)
    )
    info, _ = await maybe(api.post(f"/v3/workspaces/{w}/peers/list", {"filters": {"id": p}}))
    params = {"observer": observer, "level": level, "page_no": page_no}
    return page(
        request,
        viewer,
        "peer.html",
        ws=w,
        peer_id=p,
        info=(info or {}).get("items", [None])[0] if info else None,
        card=card.get("peer_card") or [],
        conclusions=conclusions,
        conclusions_refused=conclusions_refused,
        sessions=sessions,
        sessions_refused=sessions_refused,
        observer=observer,
        level=level,
        levels=LEVELS,
        params=params,
        notice=request.query_params.get("notice"),
    )


@router.post("/ui/w/{w}/p/{p}/card", dependencies=[CsrfChecked])
async def set_card(viewer: ViewerDep, w: str, p: str, card: str = Form("")) -> Response:
    """Replace the peer card with the textarea's lines (one fact per line)."""
    await viewer.api.ok(
        "PUT", f"/v3/workspaces/{w}/peers/{p}/card", body={"peer_card": lines(card)}
    )
    return RedirectResponse(f"/ui/w/{w}/p/{p}?notice=card+saved", status_code=303)


@router.post("/ui/w/{w}/p/{p}/conclusions", dependencies=[CsrfChecked])
async def create_conclusion(
    viewer: ViewerDep,
    w: str,
    p: str,
    content: str = Form(),
    observer: str = Form(),
    session: str = Form(""),
) -> Response:
    item: dict[str, Any] = {"content": content, "observer_id": observer, "observed_id": p}
    if session.strip():
        item["session_id"] = session.strip()
    await viewer.api.post(f"/v3/workspaces/{w}/conclusions", {"conclusions": [item]})
    return RedirectResponse(f"/ui/w/{w}/p/{p}?notice=conclusion+created", status_code=303)


@router.post("/ui/w/{w}/c/{conclusion}/delete", dependencies=[CsrfChecked])
async def delete_conclusion(
    viewer: ViewerDep, w: str, conclusion: str, back: str = Form("")
) -> Response:
    await viewer.api.ok("DELETE", f"/v3/workspaces/{w}/conclusions/{conclusion}")
    to = back if back.startswith(f"/ui/w/{w}/") else f"/ui/w/{w}"  # never off-site
    return RedirectResponse(f"{to}?notice=conclusion+deleted", status_code=303)


@router.get("/ui/w/{w}/p/{p}/representation")
async def representation(
    request: Request, viewer: ViewerDep, w: str, p: str, search_query: str = "", target: str = ""
) -> Response:
    body: dict[str, Any] = {}
    if search_query.strip():
        body["search_query"] = search_query.strip()
    if target.strip():
        body["target"] = target.strip()
    answer = await viewer.api.post(f"/v3/workspaces/{w}/peers/{p}/representation", body)
    return page(request, viewer, "representation.html", text=answer.get("representation", ""))
