from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response
from sqlalchemy.ext.asyncio import AsyncSession

from ...auth import checks
from ...schemas.pagination import Page
from ...schemas.peers import Peer, PeerCreate, PeerGet, PeerUpdate
from ...schemas.sessions import Session, SessionGet
from ...services import lifecycle, peers
from ..deps import DbSession, Listing, PrincipalDep, ReadDb, UnitOfWorkDep
from ..presence import PEER_PRESENT
from ..rendering import rendered

router = APIRouter(prefix="/workspaces/{workspace_id}/peers", tags=["peers"])
# PEER_PRESENT on each route that names a peer: a dependency costs every request it is on


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
    principal: PrincipalDep,
    uow: UnitOfWorkDep,
) -> Response:
    # 201 when created, 200 when it existed. An existing peer, asked for by a workspace-level
    # key without changes, is one read on the read pool; anything else one unit of work.
    found = await peers.find(uow.reads, workspace_id, body) if principal.workspace_level else None
    if found is not None:
        return rendered(found)
    writes = body.metadata is not None or body.configuration is not None

    async def get_or_create(db: AsyncSession) -> tuple[Peer, bool]:
        await checks.authorize_peer_create(db, principal, workspace_id, body.id, writes=writes)
        return await peers.get_or_create(db, workspace_id, body, looked=principal.workspace_level)

    peer, created = await uow.run(get_or_create)
    return rendered(peer, 201 if created else 200)


@router.put("/{peer_id}", response_model=Peer, dependencies=PEER_PRESENT)
async def update_peer(workspace_id: str, peer_id: str, body: PeerUpdate, db: DbSession) -> Peer:
    return await peers.update(db, workspace_id, peer_id, body)


@router.post("/{peer_id}/sessions", response_model=Page[Session], dependencies=PEER_PRESENT)
async def get_sessions_for_peer(
    workspace_id: str,
    peer_id: str,
    db: ReadDb,
    paging: Listing,
    options: Annotated[SessionGet | None, Body()] = None,
) -> Page[Session]:
    filters = options.filters if options else None
    return await peers.sessions_of_peer(db, workspace_id, peer_id, filters, paging)


@router.delete("/{peer_id}", status_code=202, dependencies=PEER_PRESENT)
async def erase_peer(workspace_id: str, peer_id: str, db: DbSession) -> dict[str, str]:
    """Beyond upstream: the peer reads as absent at once (404 on its routes; writes naming it
    get 409) and a background job erases its messages, memberships, conclusions by and about
    it, cards and jobs."""
    await lifecycle.erase_peer(db, workspace_id, peer_id)
    return {"message": "Peer erasure accepted"}
