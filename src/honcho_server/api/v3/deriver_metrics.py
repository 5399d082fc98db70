"""Routes: the deriver's backlog (``deriver/metrics``), for the whole server and for one
workspace.

``GET /deriver/metrics`` is upstream Honcho's (3.1.2+): service-wide, outside ``/v3`` and
left out of the OpenAPI document, as upstream serves it. Here it needs an admin key when
auth is on (it counts every tenant's work, like ``/status``).
``GET /v3/workspaces/{workspace_id}/deriver/metrics`` gives the same numbers for one
workspace, to the keys that may read its queue status.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from ...schemas.deriver_metrics import DeriverMetrics
from ...services.deriver_metrics import deriver_metrics
from ..deps import DbSession, SettingsDep

router = APIRouter(tags=["workspaces"])
service_router = APIRouter(tags=["deriver"])


@service_router.get("/deriver/metrics", response_model=DeriverMetrics, include_in_schema=False)
async def get_deriver_metrics(db: DbSession, settings: SettingsDep) -> DeriverMetrics:
    """Seconds of outstanding deriver work, plus the raw counts behind it (every workspace)."""
    stale_after = timedelta(seconds=settings.job_stale_after_seconds)
    return await deriver_metrics(db, stale_after=stale_after)


@router.get("/workspaces/{workspace_id}/deriver/metrics", response_model=DeriverMetrics)
async def get_workspace_deriver_metrics(
    workspace_id: str, db: DbSession, settings: SettingsDep
) -> DeriverMetrics:
    """Seconds of outstanding deriver work, plus the raw counts behind it, for one workspace
    (the shape of upstream's service-wide ``GET /deriver/metrics``)."""
    stale_after = timedelta(seconds=settings.job_stale_after_seconds)
    return await deriver_metrics(db, stale_after=stale_after, workspace=workspace_id)
