"""v2 workspace routes: the v3 ones, except that delete answers the deleted workspace and
``deriver/status`` and ``trigger_dream`` are v3's queue status and ``schedule_dream``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from ...schemas.messages import Message
from ...schemas.pagination import Page
from ...schemas.search import MessageSearchOptions
from ...schemas.workspaces import Workspace, WorkspaceCreate, WorkspaceGet, WorkspaceUpdate
from .common import Paging, V3Dep, body_of, paging
from .dispatch import path
from .schemas import DeriverStatus, TriggerDreamRequest

router = APIRouter(tags=["workspaces"])


@router.post("/workspaces", response_model=Workspace)
async def get_or_create_workspace(body: WorkspaceCreate, request: Request, v3: V3Dep) -> Any:
    return await v3.json("POST", "/v3/workspaces", content=await body_of(request))


@router.post("/workspaces/list", response_model=Page[Workspace])
async def get_all_workspaces(
    request: Request,
    v3: V3Dep,
    page: Paging,
    options: Annotated[WorkspaceGet | None, Body()] = None,
) -> Any:
    url = "/v3/workspaces/list"
    return await v3.json("POST", url, params=paging(page), content=await body_of(request))


@router.put("/workspaces/{workspace_id}", response_model=Workspace)
async def update_workspace(
    workspace_id: str, body: WorkspaceUpdate, request: Request, v3: V3Dep
) -> Any:
    url = path("workspaces", workspace_id)
    return await v3.json("PUT", url, content=await body_of(request))


@router.delete("/workspaces/{workspace_id}", response_model=Workspace)
async def delete_workspace(workspace_id: str, v3: V3Dep) -> Any:
    """v2 answers the workspace it deleted: read, then v3's delete (409 while it has active
    sessions; purged in the background)."""
    url = path("workspaces", workspace_id)
    workspace = await v3.json("GET", url)
    await v3.send("DELETE", url)
    return workspace


@router.post("/workspaces/{workspace_id}/search", response_model=list[Message])
async def search_workspace(
    workspace_id: str, body: MessageSearchOptions, request: Request, v3: V3Dep
) -> Any:
    url = path("workspaces", workspace_id, "search")
    return await v3.json("POST", url, content=await body_of(request))


@router.get("/workspaces/{workspace_id}/deriver/status", response_model=DeriverStatus)
async def get_deriver_status(
    workspace_id: str,
    v3: V3Dep,
    observer_id: Annotated[str | None, Query(description="Optional observer ID")] = None,
    sender_id: Annotated[str | None, Query(description="Optional sender ID")] = None,
    session_id: Annotated[str | None, Query(description="Optional session ID")] = None,
) -> Any:
    """v3's queue status (same counts, same filters) under its v2 name."""
    params = {"observer_id": observer_id, "sender_id": sender_id, "session_id": session_id}
    url = path("workspaces", workspace_id, "queue", "status")
    return await v3.json("GET", url, params=params)


@router.post("/workspaces/{workspace_id}/trigger_dream", status_code=204, response_class=Response)
async def trigger_dream(workspace_id: str, body: TriggerDreamRequest, v3: V3Dep) -> Response:
    """v3's ``schedule_dream``: both v2 dream types run its consolidating dream (``omni``)."""
    request = {"observer": body.observer, "observed": body.observed, "dream_type": "omni"}
    await v3.send("POST", path("workspaces", workspace_id, "schedule_dream"), json=request)
    return Response(status_code=204)
