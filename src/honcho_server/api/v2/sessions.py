"""v2 session routes: v3's, except clone (a GET answering 200) and setting a member's config
(a POST answering 200)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from ...schemas.configuration import SessionPeerConfig
from ...schemas.pagination import Page
from ...schemas.peers import Peer
from ...schemas.sessions import Session, SessionCreate, SessionGet, SessionUpdate
from .common import Paging, V3Dep, body_of, paging
from .dispatch import path

router = APIRouter(tags=["sessions"])

SESSIONS = "/workspaces/{workspace_id}/sessions"
SESSION = SESSIONS + "/{session_id}"
PeerMap = Annotated[dict[str, SessionPeerConfig], Body()]


@router.post(SESSIONS, response_model=Session)
async def get_or_create_session(
    workspace_id: str, body: SessionCreate, request: Request, v3: V3Dep
) -> Any:
    url = path("workspaces", workspace_id, "sessions")
    return await v3.json("POST", url, content=await body_of(request))


@router.post(SESSIONS + "/list", response_model=Page[Session])
async def get_sessions(
    workspace_id: str,
    request: Request,
    v3: V3Dep,
    page: Paging,
    options: Annotated[SessionGet | None, Body()] = None,
) -> Any:
    url = path("workspaces", workspace_id, "sessions", "list")
    return await v3.json("POST", url, params=paging(page), content=await body_of(request))


@router.put(SESSION, response_model=Session)
async def update_session(
    workspace_id: str, session_id: str, body: SessionUpdate, request: Request, v3: V3Dep
) -> Any:
    url = path("workspaces", workspace_id, "sessions", session_id)
    return await v3.json("PUT", url, content=await body_of(request))


@router.delete(SESSION, status_code=202)
async def delete_session(workspace_id: str, session_id: str, v3: V3Dep) -> Any:
    return await v3.json("DELETE", path("workspaces", workspace_id, "sessions", session_id))


@router.get(SESSION + "/clone", response_model=Session)
async def clone_session(
    workspace_id: str,
    session_id: str,
    v3: V3Dep,
    message_id: Annotated[str | None, Query(description="Message ID to cut the clone at")] = None,
) -> Any:
    url = path("workspaces", workspace_id, "sessions", session_id, "clone")
    return await v3.json("POST", url, params={"message_id": message_id})


@router.post(SESSION + "/peers", response_model=Session)
async def add_peers_to_session(
    workspace_id: str, session_id: str, peers: PeerMap, request: Request, v3: V3Dep
) -> Any:
    url = path("workspaces", workspace_id, "sessions", session_id, "peers")
    return await v3.json("POST", url, content=await body_of(request))


@router.put(SESSION + "/peers", response_model=Session)
async def set_session_peers(
    workspace_id: str, session_id: str, peers: PeerMap, request: Request, v3: V3Dep
) -> Any:
    url = path("workspaces", workspace_id, "sessions", session_id, "peers")
    return await v3.json("PUT", url, content=await body_of(request))


@router.delete(SESSION + "/peers", response_model=Session)
async def remove_peers_from_session(
    workspace_id: str,
    session_id: str,
    peers: Annotated[list[str], Body()],
    request: Request,
    v3: V3Dep,
) -> Any:
    url = path("workspaces", workspace_id, "sessions", session_id, "peers")
    return await v3.json("DELETE", url, content=await body_of(request))


@router.get(SESSION + "/peers", response_model=Page[Peer])
async def get_session_peers(workspace_id: str, session_id: str, v3: V3Dep, page: Paging) -> Any:
    url = path("workspaces", workspace_id, "sessions", session_id, "peers")
    return await v3.json("GET", url, params=paging(page))


@router.get(SESSION + "/peers/{peer_id}/config", response_model=SessionPeerConfig)
async def get_peer_config(workspace_id: str, session_id: str, peer_id: str, v3: V3Dep) -> Any:
    url = path("workspaces", workspace_id, "sessions", session_id, "peers", peer_id, "config")
    return await v3.json("GET", url)


@router.post(SESSION + "/peers/{peer_id}/config")
async def set_peer_config(
    workspace_id: str,
    session_id: str,
    peer_id: str,
    config: SessionPeerConfig,
    request: Request,
    v3: V3Dep,
) -> None:
    """v3's ``PUT …/config``; v2 answers 200 with ``null``."""
    url = path("workspaces", workspace_id, "sessions", session_id, "peers", peer_id, "config")
    await v3.send("PUT", url, content=await body_of(request))
