"""``/ui/w/{w}/chat``: the chat playground — ask about a peer at a reasoning level; the answer
streams in as the model writes it (the API's own server-sent events, relayed), then the
evidence it read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response, StreamingResponse

from ...schemas.chat import MAX_QUERY_CHARS, ReasoningLevel
from ..browser import CsrfChecked, ViewerDep
from ..render import page

router = APIRouter(include_in_schema=False)

LEVELS = ("minimal", "low", "medium", "high", "max")


class Ask(BaseModel):
    peer: str = Field(min_length=1)
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    reasoning_level: ReasoningLevel = "low"
    target: str = ""
    session: str = ""


@router.get("/ui/w/{w}/chat")
async def playground(request: Request, viewer: ViewerDep, w: str, peer: str = "") -> Response:
    return page(
        request,
        viewer,
        "chat.html",
        ws=w,
        peer=peer or (viewer.principal.peer or ""),
        levels=LEVELS,
    )


@router.post("/ui/w/{w}/chat", dependencies=[CsrfChecked])
async def ask(viewer: ViewerDep, w: str, body: Ask) -> StreamingResponse:
    request: dict[str, Any] = {
        "query": body.query,
        "stream": True,
        "reasoning_level": body.reasoning_level,
        "include_evidence": True,
    }
    if body.target.strip():
        request["target"] = body.target.strip()
    if body.session.strip():
        request["session_id"] = body.session.strip()
    events = viewer.api.stream("POST", f"/v3/workspaces/{w}/peers/{body.peer}/chat", request)
    return StreamingResponse(
        events, media_type="text/event-stream", headers={"cache-control": "no-store"}
    )
