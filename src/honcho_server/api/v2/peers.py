"""v2 peer routes: v3's, with v2's option names on representation and peer context and the
representation in v2's structured form."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from ...schemas.messages import Message
from ...schemas.pagination import Page
from ...schemas.peer_cards import PeerCardResponse, PeerCardSet
from ...schemas.peers import Peer, PeerCreate, PeerGet, PeerUpdate
from ...schemas.search import MessageSearchOptions
from ...schemas.sessions import Session, SessionGet
from ...services.representation.peer_views import Search
from .common import Paging, V3Dep, body_of, paging
from .dispatch import path
from .representation import View, structured
from .schemas import DialecticOptions, DialecticResponse, PeerContext, PeerRepresentationGet

router = APIRouter(tags=["peers"])

PEER = "/workspaces/{workspace_id}/peers/{peer_id}"
TopK = Annotated[int | None, Query(ge=1, le=100)]
MaxDistance = Annotated[float | None, Query(ge=0.0, le=1.0)]


@router.post("/workspaces/{workspace_id}/peers/list", response_model=Page[Peer])
async def get_peers(
    workspace_id: str,
    request: Request,
    v3: V3Dep,
    page: Paging,
    options: Annotated[PeerGet | None, Body()] = None,
) -> Any:
    url = path("workspaces", workspace_id, "peers", "list")
    return await v3.json("POST", url, params=paging(page), content=await body_of(request))


@router.post("/workspaces/{workspace_id}/peers", response_model=Peer)
async def get_or_create_peer(
    workspace_id: str, body: PeerCreate, request: Request, v3: V3Dep
) -> Any:
    url = path("workspaces", workspace_id, "peers")
    return await v3.json("POST", url, content=await body_of(request))


@router.put(PEER, response_model=Peer)
async def update_peer(
    workspace_id: str, peer_id: str, body: PeerUpdate, request: Request, v3: V3Dep
) -> Any:
    url = path("workspaces", workspace_id, "peers", peer_id)
    return await v3.json("PUT", url, content=await body_of(request))


@router.post(PEER + "/sessions", response_model=Page[Session])
async def get_sessions_for_peer(
    workspace_id: str,
    peer_id: str,
    request: Request,
    v3: V3Dep,
    page: Paging,
    options: Annotated[SessionGet | None, Body()] = None,
) -> Any:
    url = path("workspaces", workspace_id, "peers", peer_id, "sessions")
    return await v3.json("POST", url, params=paging(page), content=await body_of(request))


@router.post(PEER + "/chat", response_model=DialecticResponse)
async def chat(workspace_id: str, peer_id: str, body: DialecticOptions, v3: V3Dep) -> Any:
    """v3's chat at its default reasoning level; a streamed answer is v3's event stream (the
    same events v2 sent: ``{"delta": {"content": …}, "done": false}`` … ``{"done": true}``),
    passed on as it comes."""
    url = path("workspaces", workspace_id, "peers", peer_id, "chat")
    if body.stream:
        return await v3.stream(url, body.model_dump())
    answer = await v3.json("POST", url, json=body.model_dump())
    return {"content": answer.get("content") or ""}


@router.post(PEER + "/representation", response_model=dict[str, Any])
async def get_working_representation(
    workspace_id: str, peer_id: str, body: PeerRepresentationGet, request: Request, v3: V3Dep
) -> Any:
    """``{"explicit": [...], "deductive": [...]}`` at the top level, where honcho-ai 1.x's
    ``Session.working_rep`` reads it (its ``Peer.working_rep`` reads it there too)."""
    options = {
        "session_id": body.session_id,
        "target": body.target,
        "search_query": body.search_query,
        "search_top_k": body.search_top_k,
        "search_max_distance": body.search_max_distance,
        "include_most_frequent": body.include_most_derived,
        "max_conclusions": body.max_observations,
    }
    url = path("workspaces", workspace_id, "peers", peer_id, "representation")
    await v3.send("POST", url, json=options)  # the key, the options, the peer's existence
    view = View(
        workspace=workspace_id,
        observer=peer_id,
        observed=body.target or peer_id,
        max_conclusions=body.max_observations or 25,
        include_most_frequent=bool(body.include_most_derived),
        session=body.session_id,
        search=Search(body.search_query, body.search_top_k, body.search_max_distance),
    )
    return (await structured(request, view)).model_dump(mode="json")


@router.get(PEER + "/card", response_model=PeerCardResponse)
async def get_peer_card(
    workspace_id: str, peer_id: str, v3: V3Dep, target: str | None = None
) -> Any:
    url = path("workspaces", workspace_id, "peers", peer_id, "card")
    return await v3.json("GET", url, params={"target": target})


@router.put(PEER + "/card", response_model=PeerCardResponse)
async def set_peer_card(
    workspace_id: str,
    peer_id: str,
    body: PeerCardSet,
    request: Request,
    v3: V3Dep,
    target: str | None = None,
) -> Any:
    url = path("workspaces", workspace_id, "peers", peer_id, "card")
    return await v3.json("PUT", url, params={"target": target}, content=await body_of(request))


@router.get(PEER + "/context", response_model=PeerContext)
async def get_peer_context(
    workspace_id: str,
    peer_id: str,
    request: Request,
    v3: V3Dep,
    target: str | None = None,
    search_query: str | None = None,
    search_top_k: TopK = None,
    search_max_distance: MaxDistance = None,
    include_most_derived: bool = True,
    max_observations: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> Any:
    params = {
        "target": target,
        "search_query": search_query,
        "search_top_k": search_top_k,
        "search_max_distance": search_max_distance,
        "include_most_frequent": include_most_derived,
        "max_conclusions": max_observations,
    }
    url = path("workspaces", workspace_id, "peers", peer_id, "context")
    context = await v3.json("GET", url, params=params)
    view = View(
        workspace=workspace_id,
        observer=peer_id,
        observed=context["target_id"],
        max_conclusions=max_observations or 100,
        include_most_frequent=include_most_derived,
        search=Search(search_query, search_top_k, search_max_distance),
    )
    context["representation"] = (await structured(request, view)).model_dump(mode="json")
    return context


@router.post(PEER + "/search", response_model=list[Message])
async def search_peer(
    workspace_id: str, peer_id: str, body: MessageSearchOptions, request: Request, v3: V3Dep
) -> Any:
    url = path("workspaces", workspace_id, "peers", peer_id, "search")
    return await v3.json("POST", url, content=await body_of(request))
