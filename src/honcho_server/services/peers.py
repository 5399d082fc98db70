"""Peers: get-or-create, update, list, and the sessions a peer belongs to."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.read_pool import ReadPool
from ..db.repositories import peers as peer_rows
from ..db.repositories.peers import PeerRepository
from ..db.repositories.sessions import SessionRepository
from ..db.repositories.workspaces import WorkspaceRepository
from ..db.session import autocommit_reads
from ..ids import require_valid_name
from ..schemas.pagination import Page
from ..schemas.peers import Peer, PeerCreate, PeerUpdate
from ..schemas.sessions import Session
from . import views
from .paging import PageRequest, to_page


async def find(reads: ReadPool, workspace: str, body: PeerCreate) -> Peer | None:
    """A get-or-create that only gets: the existing peer, read on the read pool (one
    statement, no transaction); ``None`` when the body changes the peer or it does not exist
    (then :func:`get_or_create`, with ``looked=True``)."""
    if body.metadata is not None or body.configuration is not None:
        return None
    found = await peer_rows.find_live(reads, require_valid_name(workspace, "workspace"), body.id)
    return None if found is None else views.peer(found)


async def get_or_create(
    db: AsyncSession, workspace: str, body: PeerCreate, *, looked: bool = False
) -> tuple[Peer, bool]:
    """New peer → 201. Existing peer: non-null metadata/configuration replace the stored ones.

    A bare get of an existing peer is one autocommit SELECT (skipped when :func:`find` has
    just looked); creating or changing one takes the transaction below."""
    require_valid_name(workspace, "workspace")
    repo = PeerRepository(db)
    if body.metadata is None and body.configuration is None and not looked:
        async with autocommit_reads(db):
            found = await repo.get_live(workspace, body.id)
        if found is not None:
            return views.peer(found), False
    await WorkspaceRepository(db).ensure(workspace)
    row = await repo.create_if_missing(
        workspace, body.id, body.metadata or {}, body.configuration or {}
    )
    if row is not None:
        return views.peer(row), True
    if body.metadata is None and body.configuration is None:
        existing = await repo.get(workspace, body.id)
        if existing is not None:
            return views.peer(existing), False
    row = await repo.upsert(workspace, body.id, body.metadata, body.configuration)
    return views.peer(row), False


async def update(db: AsyncSession, workspace: str, name: str, body: PeerUpdate) -> Peer:
    require_valid_name(workspace, "workspace")
    require_valid_name(name, "peer")
    await WorkspaceRepository(db).ensure(workspace)
    row = await PeerRepository(db).upsert(workspace, name, body.metadata, body.configuration)
    return views.peer(row)


async def list_peers(
    db: AsyncSession,
    workspace: str,
    filters: dict[str, Any] | None,
    req: PageRequest,
    kind: Literal["scope", "all"] | None = None,
) -> Page[Peer]:
    """Regular peers; with ``kind``, scope peers only (``scope``) or both (``all``)."""
    result = await PeerRepository(db).list_page(
        workspace, filters, page=req.page, size=req.size, reverse=req.reverse, kind=kind
    )
    return to_page(result, views.peer, req)


async def sessions_of_peer(
    db: AsyncSession,
    workspace: str,
    peer: str,
    filters: dict[str, Any] | None,
    req: PageRequest,
) -> Page[Session]:
    result = await SessionRepository(db).list_for_peer(
        workspace, peer, filters, page=req.page, size=req.size, reverse=req.reverse
    )
    return to_page(result, views.session, req)
