"""Peer cards: what ``observer`` keeps about ``target`` (no target: the observer's own card)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.repositories.peer_cards import PeerCardRepository
from ..db.repositories.peers import PeerRepository
from ..db.repositories.workspaces import WorkspaceRepository
from ..errors import NotFound
from ..ids import require_valid_name
from ..schemas.peer_cards import PeerCardResponse, PeerCardSet


async def get_card(
    db: AsyncSession, workspace: str, observer: str, target: str | None
) -> PeerCardResponse:
    """404 if the observer does not exist; the target need not exist (its card is null)."""
    exists, entries = await PeerCardRepository(db).get(workspace, observer, target or observer)
    if not exists:
        raise NotFound(f"Peer {observer} not found in workspace {workspace}")
    return PeerCardResponse(peer_card=entries)


async def set_card(
    db: AsyncSession, workspace: str, observer: str, target: str | None, body: PeerCardSet
) -> PeerCardResponse:
    """Replace the card, creating the workspace and the observer peer if needed."""
    require_valid_name(workspace, "workspace")
    require_valid_name(observer, "peer")
    await WorkspaceRepository(db).ensure(workspace)
    await PeerRepository(db).ensure_many(workspace, [observer])
    entries = await PeerCardRepository(db).put(
        workspace, observer, target or observer, body.peer_card
    )
    return PeerCardResponse(peer_card=entries)
