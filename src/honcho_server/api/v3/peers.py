from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from ...auth import checks
from ...schemas.pagination import Page
from ...schemas.peers import Peer, PeerCreate, PeerGet, PeerUpdate
from ...schemas.sessions import Session, SessionGet
from ...services import lifecycle, peers
from ..deps import DbSession, Listing, PrincipalDep, ReadDb
from ..presence import PEER_PRESENT
from .status import created_or_ok

router = APIRouter(
    prefix="/workspaces/{workspace_id}/peers", tags=["peers"], dependencies=PEER_PRESENT
)


@router.post("/list", response_model=Page[Peer])
async def get_peers(
    workspace_id: str,
    db: ReadDb,
    paging: Listing,
    options: Annotated[PeerGet | None, Body()] = None,
) -> Page[Peer]:
    """Regular peers by default; ``kind`` lists the scopes' peers (``scope``) or both (``all``)."""
    if options is None:
        return await peers.list_peers(db, workspace_id, None, paging)
    return await peers.list_peers(db, workspace_id, options.filters, paging, options.kind)


@router.post("", response_model=Peer, status_code=200)
async def get_or_create_peer(
    workspace_id: str,
    body: PeerCreate,
    db: DbSession,
    response: Response,
    principal: PrincipalDep,
) -> Peer:
    writes = body.metadata is not None or body.configuration is not None
    await checks.authorize_peer_create(db, principal, workspace_id, body.id, writes=writes)
    peer, created = await peers.get_or_create(db, workspace_id, body)
    created_or_ok(response, created)
    return peer


@router.put("/{peer_id}", response_model=Peer)
async def update_peer(workspace_id: str, peer_id: str, body: PeerUpdate, db: DbSession) -> Peer:
    return await peers.update(db, workspace_id, peer_id, body)


@router.post("/{peer_id}/sessions", response_model=Page[Session])
async def get_sessions_for_peer(
    workspace_id: str,
    peer_id: str,
    db: ReadDb,
    paging: Listing,
    options: Annotated[SessionGet | None, Body()] = None,
) -> Page[Session]:
    filters = options.filters if options else None
    return await peers.sessions_of_peer(db, workspace_id, peer_id, filters, paging)


@router.delete("/{peer_id}", status_code=202)
async def erase_peer(workspace_id: str, peer_id: str, db: DbSession) -> dict[str, str]:
    """Beyond upstream: the peer reads as absent at once (404 on its routes; writes naming it
    get 409) and a background job erases its messages, memberships, conclusions by and about
    it, cards and jobs."""
    await lifecycle.erase_peer(db, workspace_id, peer_id)
    return {"message": "Peer erasure accepted"}
