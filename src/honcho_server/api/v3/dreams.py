"""Routes: dreams (``POST /workspaces/{workspace_id}/schedule_dream``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from ...schemas.dreams import ScheduleDreamRequest
from ...services import dreams
from ..deps import DbSession, SettingsDep

router = APIRouter(tags=["workspaces"])


@router.post("/workspaces/{workspace_id}/schedule_dream", status_code=204, response_class=Response)
async def schedule_dream(
    workspace_id: str,
    body: Annotated[ScheduleDreamRequest, Body(description="Dream scheduling parameters")],
    db: DbSession,
    settings: SettingsDep,
) -> Response:
    """Manually schedule a dream task for a specific collection.

    This endpoint bypasses all automatic dream conditions (document threshold,
    minimum hours between dreams) and schedules the dream task for a future execution.

    Currently this endpoint only supports scheduling immediate dreams. In the future,
    users may pass a cron-style expression to schedule dreams at specific times.
    """
    await dreams.schedule_dream(db, settings, workspace_id, body)
    return Response(status_code=204)
