"""Routes: the processing queue's status for a workspace."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ...schemas.queue import QueueStatus
from ...services.queue_status import queue_status
from ..deps import DbSession

router = APIRouter(tags=["workspaces"])


@router.get("/workspaces/{workspace_id}/queue/status", response_model=QueueStatus)
async def get_queue_status(
    workspace_id: str,
    db: DbSession,
    observer_id: Annotated[
        str | None, Query(description="Optional observer ID to filter by")
    ] = None,
    sender_id: Annotated[str | None, Query(description="Optional sender ID to filter by")] = None,
    session_id: Annotated[str | None, Query(description="Optional session ID to filter by")] = None,
) -> QueueStatus:
    """Derivation work (representation, summary, dream) of a workspace by state, optionally
    scoped to an observer, a sender and/or a session (filters combine with AND)."""
    return await queue_status(
        db, workspace_id, observer=observer_id, sender=sender_id, session=session_id
    )
