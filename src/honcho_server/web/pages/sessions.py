"""``/ui/w/{w}/s/{s}``: a session — paged messages (either order, jump to one), members and
their observe settings, summaries, and the context preview at a token budget."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import Response

from ...db.repositories.explorer import ExplorerRepository
from ...db.session import unit_of_work
from ...services.context.budget import MAX_CONTEXT_TOKENS, SUMMARY_SHARE, summary_budget
from ..browser import ViewerDep
from ..dispatch import Api, ApiError
from ..render import page
from .common import maybe

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MEMBERS_SHOWN = 50
DEFAULT_BUDGET = 2000
PREVIEW_PART = 200


@router.get("/ui/w/{w}/s/{s}")
async def session(
    request: Request,
    viewer: ViewerDep,
    w: str,
    s: str,
    page_no: int = 1,
    order: str = Query("", alias="newest"),
    jump: str = "",
) -> Response:
    newest = order in ("true", "1", "on")  # the order select sends "" for oldest first
    api = viewer.api
    base = f"/v3/workspaces/{w}/sessions/{s}"
    info = await api.get(base)
    if jump:
        page_no = await _page_of(request, api, w, s, jump, newest)
    messages = await api.post(
        f"{base}/messages/list", {}, page=max(page_no, 1), size=PAGE_SIZE, reverse=newest
    )
    members = await api.get(f"{base}/peers", page=1, size=MEMBERS_SHOWN)
    configs = [  # a narrow key may read only some members' settings
        config
        for config, _ in await asyncio.gather(
            *(maybe(api.get(f"{base}/peers/{m['id']}/config")) for m in members["items"])
        )
    ]
    summaries = await api.get(f"{base}/summaries")
    params = {"page_no": page_no, "newest": newest}
    return page(
        request,
        viewer,
        "session.html",
        ws=w,
        info=info,
        messages=messages,
        members=list(zip(members["items"], configs, strict=True)),
        members_total=members["total"],
        summaries=summaries,
        params=params,
        newest=newest,
        jump=jump,
        budget=DEFAULT_BUDGET,
        max_budget=MAX_CONTEXT_TOKENS,
    )


async def _page_of(request: Request, api: Api, w: str, s: str, message: str, newest: bool) -> int:
    """The page that holds ``message`` (which the key must be able to read)."""
    await api.get(f"/v3/workspaces/{w}/sessions/{s}/messages/{message}")  # the guard decides
    factory: async_sessionmaker[AsyncSession] = request.app.state.session_factory
    async with unit_of_work(factory) as db:
        position = await ExplorerRepository(db).message_position(w, s, message)
    if newest:
        total = (await api.post(f"/v3/workspaces/{w}/sessions/{s}/messages/list", {}, size=1))[
            "total"
        ]
        position = total - position + 1
    return max(1, (position + PAGE_SIZE - 1) // PAGE_SIZE)


@router.get("/ui/w/{w}/s/{s}/context")
async def context(
    request: Request, viewer: ViewerDep, w: str, s: str, tokens: int, part: int = 1
) -> Response:
    """What ``GET …/context?tokens=N`` returns, as the API returns it, with its arithmetic;
    its messages listed :data:`PREVIEW_PART` at a time (a big budget holds thousands)."""
    if not 0 <= tokens <= MAX_CONTEXT_TOKENS:
        raise ApiError.of(422, f"tokens must be between 0 and {MAX_CONTEXT_TOKENS}")
    base = f"/v3/workspaces/{w}/sessions/{s}"
    ctx: dict[str, Any] = await viewer.api.get(f"{base}/context", tokens=tokens)
    total = (await viewer.api.post(f"{base}/messages/list", {}, size=1))["total"]
    summary = ctx.get("summary")
    summary_tokens = summary["token_count"] if summary else 0
    message_tokens = sum(m["token_count"] for m in ctx["messages"])
    left_out = total - len(ctx["messages"])
    covered = 0  # of those left out, how many the summary stands in for (the oldest ones)
    if summary and left_out > 0:
        factory: async_sessionmaker[AsyncSession] = request.app.state.session_factory
        async with unit_of_work(factory) as db:  # the guarded context named this message
            position = await ExplorerRepository(db).message_position(w, s, summary["message_id"])
        covered = min(position, left_out)
    parts = max(1, -(-len(ctx["messages"]) // PREVIEW_PART))
    part = min(max(part, 1), parts)
    shown = ctx["messages"][(part - 1) * PREVIEW_PART : part * PREVIEW_PART]
    return page(
        request,
        viewer,
        "context.html",
        ws=w,
        ctx=ctx,
        tokens=tokens,
        summary_cap=summary_budget(tokens),
        summary_share=int(SUMMARY_SHARE * 100),
        summary_tokens=summary_tokens,
        message_tokens=message_tokens,
        left_out=left_out,
        covered=covered,
        total=total,
        shown=shown,
        part=part,
        parts=parts,
        first=(part - 1) * PREVIEW_PART + 1,
        session=s,
    )
