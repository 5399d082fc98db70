"""v2 message routes (create at ``messages/`` with its trailing slash, answering 200), session
search, summaries and context (its peer representation in v2's structured form)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Form, Query, Request, UploadFile

from ...schemas.messages import Message, MessageBatchCreate, MessageGet, MessageUpdate
from ...schemas.pagination import Page
from ...schemas.search import MessageSearchOptions
from ...schemas.summaries import SessionSummaries
from ...services.context.budget import MAX_CONTEXT_TOKENS
from ...services.representation.peer_views import Search
from .common import Listing, V3Dep, body_of, listing
from .dispatch import path
from .representation import View, structured
from .schemas import SessionContext

router = APIRouter(tags=["messages"])

SESSION = "/workspaces/{workspace_id}/sessions/{session_id}"


@router.post(SESSION + "/messages/", response_model=list[Message])
async def create_messages_for_session(
    workspace_id: str, session_id: str, body: MessageBatchCreate, request: Request, v3: V3Dep
) -> Any:
    url = path("workspaces", workspace_id, "sessions", session_id, "messages")
    return await v3.json("POST", url, content=await body_of(request))


@router.post(SESSION + "/messages/upload", response_model=list[Message])
async def create_messages_with_file(
    workspace_id: str,
    session_id: str,
    file: Annotated[UploadFile, File()],
    peer_id: Annotated[str, Form()],
    v3: V3Dep,
    metadata: Annotated[str | None, Form()] = None,
    configuration: Annotated[str | None, Form()] = None,
    created_at: Annotated[str | None, Form()] = None,
) -> Any:
    fields = {
        "peer_id": peer_id,
        "metadata": metadata,
        "configuration": configuration,
        "created_at": created_at,
    }
    data = {k: v for k, v in fields.items() if v is not None}
    upload = (file.filename or "upload", await file.read(), file.content_type)
    url = path("workspaces", workspace_id, "sessions", session_id, "messages", "upload")
    return await v3.json("POST", url, files={"file": upload}, data=data)


@router.post(SESSION + "/messages/list", response_model=Page[Message])
async def get_messages(
    workspace_id: str,
    session_id: str,
    request: Request,
    v3: V3Dep,
    page: Listing,
    options: Annotated[MessageGet | None, Body()] = None,
) -> Any:
    url = path("workspaces", workspace_id, "sessions", session_id, "messages", "list")
    return await v3.json("POST", url, params=listing(page), content=await body_of(request))


@router.get(SESSION + "/messages/{message_id}", response_model=Message)
async def get_message(workspace_id: str, session_id: str, message_id: str, v3: V3Dep) -> Any:
    url = path("workspaces", workspace_id, "sessions", session_id, "messages", message_id)
    return await v3.json("GET", url)


@router.put(SESSION + "/messages/{message_id}", response_model=Message)
async def update_message(
    workspace_id: str,
    session_id: str,
    message_id: str,
    body: MessageUpdate,
    request: Request,
    v3: V3Dep,
) -> Any:
    url = path("workspaces", workspace_id, "sessions", session_id, "messages", message_id)
    return await v3.json("PUT", url, content=await body_of(request))


@router.post(SESSION + "/search", response_model=list[Message])
async def search_session(
    workspace_id: str, session_id: str, body: MessageSearchOptions, request: Request, v3: V3Dep
) -> Any:
    url = path("workspaces", workspace_id, "sessions", session_id, "search")
    return await v3.json("POST", url, content=await body_of(request))


@router.get(SESSION + "/summaries", response_model=SessionSummaries)
async def get_session_summaries(workspace_id: str, session_id: str, v3: V3Dep) -> Any:
    url = path("workspaces", workspace_id, "sessions", session_id, "summaries")
    return await v3.json("GET", url)


@router.get(SESSION + "/context", response_model=SessionContext)
async def get_session_context(
    workspace_id: str,
    session_id: str,
    request: Request,
    v3: V3Dep,
    tokens: Annotated[int | None, Query(ge=0, le=MAX_CONTEXT_TOKENS)] = None,
    last_message: Annotated[
        str | None, Query(description="The most recent message: the semantic search query")
    ] = None,
    summary: bool = True,
    peer_target: str | None = None,
    peer_perspective: str | None = None,
    limit_to_session: bool = False,
    search_top_k: Annotated[int | None, Query(ge=1, le=100)] = None,
    search_max_distance: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    include_most_derived: bool = False,
    max_observations: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> Any:
    """v3's context (its budget, summary and messages); ``last_message`` is v3's
    ``search_query``. The representation v3 fitted in the budget is answered structured."""
    params = {
        "tokens": tokens,
        "search_query": last_message,
        "summary": summary,
        "peer_target": peer_target,
        "peer_perspective": peer_perspective,
        "limit_to_session": limit_to_session,
        "search_top_k": search_top_k,
        "search_max_distance": search_max_distance,
        "include_most_frequent": include_most_derived,
        "max_conclusions": max_observations,
    }
    url = path("workspaces", workspace_id, "sessions", session_id, "context")
    context = await v3.json("GET", url, params=params)
    if peer_target is None or context.get("peer_representation") is None:
        context["peer_representation"] = None
        return context
    view = View(
        workspace=workspace_id,
        observer=peer_perspective or peer_target,
        observed=peer_target,
        max_conclusions=max_observations or 100,
        include_most_frequent=include_most_derived,
        session=session_id if limit_to_session else None,
        search=Search(last_message, search_top_k, search_max_distance),
    )
    context["peer_representation"] = (await structured(request, view)).model_dump(mode="json")
    return context
