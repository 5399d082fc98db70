"""Periodic housekeeping any worker may do: recover jobs of dead workers, purge old rows."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.repositories.deletion import DeletionRepository
from ..db.repositories.jobs import JobRepository
from ..db.session import unit_of_work

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(seconds=60)  # a running job must heartbeat more often than this
CONCLUSION_PURGE_AGE = timedelta(minutes=5)
SUCCEEDED_JOB_RETENTION = timedelta(hours=12)


async def requeue_stale_jobs(
    factory: async_sessionmaker[AsyncSession], stale_after: timedelta = STALE_AFTER
) -> int:
    async with unit_of_work(factory) as db:
        recovered = await JobRepository(db).requeue_stale(stale_after)
    if recovered:
        log.warning("recovered %d job(s) from workers that stopped responding", recovered)
    return recovered


async def maintain(factory: async_sessionmaker[AsyncSession]) -> None:
    """Purge conclusions soft-deleted a while ago, and jobs that succeeded long ago."""
    async with unit_of_work(factory) as db:
        purged = await DeletionRepository(db).purge_deleted_conclusions(CONCLUSION_PURGE_AGE)
        forgotten = await JobRepository(db).purge_succeeded(SUCCEEDED_JOB_RETENTION)
    if purged or forgotten:
        log.info("purged %d deleted conclusions and %d finished jobs", purged, forgotten)
