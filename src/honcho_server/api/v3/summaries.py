"""Routes: session summaries (written by the deriver, read here)."""

from __future__ import annotations

from fastapi import APIRouter

from ...schemas.summaries import SessionSummaries
from ...services import summaries
from ..deps import DbSession

router = APIRouter(prefix="/workspaces/{workspace_id}/sessions", tags=["sessions"])


@router.get("/{session_id}/summaries", response_model=SessionSummaries)
async def get_session_summaries(
    workspace_id: str, session_id: str, db: DbSession
) -> SessionSummaries:
    return await summaries.for_session(db, workspace_id, session_id)
