from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from ...auth import checks
from ...schemas.configuration import SessionPeerConfig
from ...schemas.pagination import Page
from ...schemas.peers import Peer
from ...schemas.sessions import Session, SessionCreate, SessionGet, SessionUpdate
from ...services import lifecycle, sessions
from ...services.sessions import SessionService
from ..deps import (
    DbSession,
    Listing,
    Paging,
    PrincipalDep,
    Sessions,
    SettingsDep,
    UnitOfWorkDep,
)
from ..idempotency import IdempotencyKey, create_once
from ..rendering import rendered

router = APIRouter(prefix="/workspaces/{workspace_id}/sessions", tags=["sessions"])

PeerMap = Annotated[dict[str, SessionPeerConfig], Body()]


@router.post("/list", response_model=Page[Session])
async def get_sessions(
    workspace_id: str,
    service: Sessions,
    paging: Listing,
    options: Annotated[SessionGet | None, Body()] = None,
) -> Page[Session]:
    return await service.list_sessions(workspace_id, options.filters if options else None, paging)


@router.post("", response_model=Session, status_code=200)
async def get_or_create_session(
    workspace_id: str,
    body: SessionCreate,
    principal: PrincipalDep,
    uow: UnitOfWorkDep,
    settings: SettingsDep,
) -> Response:
    # 201 when created, 200 when it existed. An existing session, asked for by a
    # workspace-level key without changes, is one read on the read pool; anything else one
    # unit of work.
    if body.scopes is not None:
        checks.require_workspace_key(principal)
    found = (
        await sessions.find(uow.reads, workspace_id, body) if principal.workspace_level else None
    )
    if found is not None:
        return rendered(found)
    writes = any(
        field is not None for field in (body.metadata, body.configuration, body.peers, body.scopes)
    )

    async def get_or_create(db: AsyncSession) -> tuple[Session, bool]:
        await checks.authorize_session_create(db, principal, workspace_id, body.id, writes=writes)
        service = SessionService(db, observers_limit=settings.session_observers_limit)
        return await service.get_or_create(workspace_id, body, looked=principal.workspace_level)

    session, created = await uow.run(get_or_create)
    return rendered(session, 201 if created else 200)


@router.get("/{session_id}", response_model=Session)
async def get_session(workspace_id: str, session_id: str, service: Sessions) -> Session:
    """Beyond upstream (which has only get-or-create): read a session without creating it,
    404 when absent or deleted. The Rust SDK's ``refresh()``, ``get_metadata()`` and
    ``get_configuration()`` call it."""
    return await service.get(workspace_id, session_id)


@router.put("/{session_id}", response_model=Session)
async def update_session(
    workspace_id: str, session_id: str, body: SessionUpdate, service: Sessions
) -> Session:
    return await service.update(workspace_id, session_id, body)


@router.delete("/{session_id}", status_code=202)
async def delete_session(workspace_id: str, session_id: str, db: DbSession) -> dict[str, str]:
    """Gone from every read at once; its data is purged by a background job."""
    await lifecycle.delete_session(db, workspace_id, session_id)
    return {"message": "Session deleted successfully"}


@router.post("/{session_id}/clone", response_model=Session, status_code=201)
async def clone_session(
    workspace_id: str,
    session_id: str,
    uow: UnitOfWorkDep,
    message_id: Annotated[str | None, Query()] = None,
    idempotency_key: IdempotencyKey = None,
) -> Session | Response:
    async def clone(db: AsyncSession) -> Session:
        return await lifecycle.clone_session(db, workspace_id, session_id, message_id)

    return await create_once(
        uow,
        idempotency_key,
        clone,
        workspace=workspace_id,
        route="sessions.clone",
        request={"session": session_id, "message_id": message_id},
        response_type=Session,
        status=201,
    )


@router.post("/{session_id}/peers", response_model=Session)
async def add_peers_to_session(
    workspace_id: str, session_id: str, peers: PeerMap, service: Sessions
) -> Session:
    return await service.add_peers(workspace_id, session_id, peers)


@router.put("/{session_id}/peers", response_model=Session)
async def set_session_peers(
    workspace_id: str, session_id: str, peers: PeerMap, service: Sessions
) -> Session:
    return await service.set_peers(workspace_id, session_id, peers)


@router.delete("/{session_id}/peers", response_model=Session)
async def remove_peers_from_session(
    workspace_id: str, session_id: str, peers: Annotated[list[str], Body()], service: Sessions
) -> Session:
    return await service.remove_peers(workspace_id, session_id, peers)


@router.get("/{session_id}/peers", response_model=Page[Peer])
async def get_session_peers(
    workspace_id: str, session_id: str, service: Sessions, paging: Paging
) -> Page[Peer]:
    return await service.list_peers(workspace_id, session_id, paging)


@router.get("/{session_id}/peers/{peer_id}/config", response_model=SessionPeerConfig)
async def get_peer_config(
    workspace_id: str, session_id: str, peer_id: str, service: Sessions
) -> SessionPeerConfig:
    return await service.get_peer_config(workspace_id, session_id, peer_id)


@router.put("/{session_id}/peers/{peer_id}/config", status_code=204)
async def set_peer_config(
    workspace_id: str,
    session_id: str,
    peer_id: str,
    config: SessionPeerConfig,
    service: Sessions,
) -> Response:
    await service.set_peer_config(workspace_id, session_id, peer_id, config)
    return Response(status_code=204)
