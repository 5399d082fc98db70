"""Routes: message search in a workspace, a session, or among one peer's messages."""

from __future__ import annotations

from fastapi import APIRouter

from ...schemas.messages import Message
from ...schemas.search import MessageSearchOptions
from ...services import search
from ..deps import DbSession

router = APIRouter(tags=["search"])


@router.post("/workspaces/{workspace_id}/search", response_model=list[Message])
async def search_workspace(
    workspace_id: str, body: MessageSearchOptions, db: DbSession
) -> list[Message]:
    return await search.search(db, search.Target(workspace_id), body)


@router.post(
    "/workspaces/{workspace_id}/sessions/{session_id}/search", response_model=list[Message]
)
async def search_session(
    workspace_id: str, session_id: str, body: MessageSearchOptions, db: DbSession
) -> list[Message]:
    return await search.search(db, search.Target(workspace_id, session=session_id), body)


@router.post("/workspaces/{workspace_id}/peers/{peer_id}/search", response_model=list[Message])
async def search_peer(
    workspace_id: str, peer_id: str, body: MessageSearchOptions, db: DbSession
) -> list[Message]:
    return await search.search(db, search.Target(workspace_id, peer=peer_id), body)
