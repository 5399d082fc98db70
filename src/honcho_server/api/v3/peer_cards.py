"""Routes: peer cards (``GET``/``PUT …/peers/{peer_id}/card?target=``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ...schemas.peer_cards import PeerCardResponse, PeerCardSet
from ...services import peer_cards
from ..deps import DbSession
from ..presence import PEER_PRESENT

router = APIRouter(
    prefix="/workspaces/{workspace_id}/peers/{peer_id}/card",
    tags=["peers"],
    dependencies=PEER_PRESENT,
)

Target = Annotated[
    str | None,
    Query(
        description=(
            "Optional target peer, from the observer's perspective. "
            "If not provided, the observer's own card"
        )
    ),
]


@router.get("", response_model=PeerCardResponse)
async def get_peer_card(
    workspace_id: str, peer_id: str, db: DbSession, target: Target = None
) -> PeerCardResponse:
    return await peer_cards.get_card(db, workspace_id, peer_id, target)


@router.put("", response_model=PeerCardResponse)
async def set_peer_card(
    workspace_id: str, peer_id: str, body: PeerCardSet, db: DbSession, target: Target = None
) -> PeerCardResponse:
    return await peer_cards.set_card(db, workspace_id, peer_id, target, body)
