"""Periodic housekeeping any worker may do: recover jobs of dead workers, purge old rows."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.repositories.deletion import DeletionRepository
from ..db.repositories.idempotency import IdempotencyRepository
from ..db.repositories.workers import WorkerRepository
from ..db.session import unit_of_work
from ..observability import metrics
from ..queue import STALE_AFTER, QueueRepository

log = logging.getLogger(__name__)

CONCLUSION_PURGE_AGE = timedelta(minutes=5)
FINISHED_JOB_RETENTION = timedelta(hours=12)
DEAD_WORKER_RETENTION = timedelta(hours=1)


async def requeue_stale_jobs(
    factory: async_sessionmaker[AsyncSession], stale_after: timedelta = STALE_AFTER
) -> int:
    """``stale`` for every job whose worker stopped responding, each in its own transaction,
    so one job that cannot be moved never holds up the recovery of the others. Returns how
    many left ``doing``."""
    async with unit_of_work(factory) as db:
        stale = await QueueRepository(db).stale(stale_after)
    recovered: dict[str, int] = {}
    for job_id in stale:
        try:
            async with unit_of_work(factory) as db:
                state = await QueueRepository(db).requeue_stale(job_id, stale_after)
        except Exception as exc:  # logged, and tried again at the next sweep
            log.warning("could not recover job %d: %s: %s", job_id, type(exc).__name__, exc)
            continue
        if state is not None:
            recovered[state] = recovered.get(state, 0) + 1
            metrics.job_recovered(state)
    if recovered:
        outcome = ", ".join(f"{n} {state}" for state, n in sorted(recovered.items()))
        log.warning("recovered jobs from workers that stopped responding: %s", outcome)
    return sum(recovered.values())


async def maintain(
    factory: async_sessionmaker[AsyncSession], idempotency_ttl: timedelta = timedelta(hours=24)
) -> None:
    """Purge conclusions soft-deleted a while ago, jobs finished long ago, workers that died
    long ago, and idempotency keys past their time."""
    async with unit_of_work(factory) as db:
        purged = await DeletionRepository(db).purge_deleted_conclusions(CONCLUSION_PURGE_AGE)
        forgotten = await QueueRepository(db).purge_finished(FINISHED_JOB_RETENTION)
        dead = await WorkerRepository(db).purge_dead(DEAD_WORKER_RETENTION)
        keys = await IdempotencyRepository(db).purge_expired(idempotency_ttl)
    if purged or forgotten or dead or keys:
        log.info(
            "purged %d deleted conclusions, %d finished jobs, %d dead workers and %d expired "
            "idempotency keys",
            purged,
            forgotten,
            dead,
            keys,
        )
