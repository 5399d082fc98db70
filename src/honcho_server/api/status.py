from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from ..schemas.status import Status
from ..services import status as status_service
from .deps import DbSession, SettingsDep

router = APIRouter(tags=["health"])


@router.get("/status", response_model=Status)
async def get_status(db: DbSession, settings: SettingsDep) -> Status:
    """Database, workers and their heartbeats, queue depth and age, failed jobs, embedder."""
    return await status_service.status(
        db,
        embedder=status_service.describe_embedder(settings),
        llm=status_service.describe_llm(settings),
        stale_after=timedelta(seconds=settings.job_stale_after_seconds),
    )
