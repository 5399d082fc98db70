"""A peer being erased reads as absent: its routes answer 404 from the ``DELETE`` on.

Installed on every ``/workspaces/{w}/peers/{p}/…`` route (after the auth guard). Writes that
name the peer elsewhere (messages, memberships, conclusions, cards) are refused by triggers
with a 409 (migration 0013).
"""

from __future__ import annotations

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.models import Peer, table
from ..db.session import autocommit_reads, unit_of_work
from ..errors import NotFound

P = table(Peer)


async def peer_present(request: Request) -> None:
    """404 when the path's peer is being erased (a missing peer is the route's business:
    most peer routes get-or-create)."""
    workspace = request.path_params.get("workspace_id")
    peer = request.path_params.get("peer_id")
    if not isinstance(workspace, str) or not isinstance(peer, str):
        return
    factory: async_sessionmaker[AsyncSession] = request.app.state.session_factory
    erasing = select(P.c.id).where(
        P.c.workspace_name == workspace, P.c.name == peer, P.c.deleted_at.is_not(None)
    )
    async with unit_of_work(factory) as db, autocommit_reads(db):  # one read: no BEGIN/COMMIT
        if (await db.execute(erasing)).first() is not None:
            raise NotFound(f"Peer {peer} not found")


PEER_PRESENT = [Depends(peer_present)]
"""``dependencies=`` of the peer routes."""
