"""The worker loop. ``run_once`` is one testable step; ``run_forever`` polls until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.repositories.deletion import DeletionRepository
from ..db.repositories.jobs import JobRepository
from ..db.session import unit_of_work
from .registry import lookup

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 0.25
BASE_BACKOFF_SECONDS = 2.0
MAINTENANCE_EVERY_SECONDS = 300.0
CONCLUSION_PURGE_AGE = timedelta(minutes=5)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def backoff(attempt: int) -> timedelta:
    return timedelta(seconds=BASE_BACKOFF_SECONDS * 2 ** max(attempt - 1, 0))


async def run_once(factory: async_sessionmaker[AsyncSession], worker: str) -> bool:
    """Claim and run one job. Returns False when there was nothing to do.

    The claim commits on its own, so a crash leaves the job visibly ``doing``. The handler's
    writes and the job's success commit together; a failure is recorded in a fresh transaction
    (retried with exponential backoff until ``max_attempts``, then ``failed`` and kept).
    """
    async with unit_of_work(factory) as db:
        job = await JobRepository(db).claim(worker)
    if job is None:
        return False
    try:
        kind = lookup(job.kind)
        payload = kind.payload.model_validate(job.payload)
        async with unit_of_work(factory) as db:
            await kind.handler(db, job.id, payload)
            await JobRepository(db).succeed(job.id)
    except Exception as exc:  # every failure is recorded on the job, loudly
        final = job.attempts >= job.max_attempts
        retry_at = None if final else datetime.now(UTC) + backoff(job.attempts)
        log.error(
            "job %d (%s) attempt %d/%d failed%s: %s",
            job.id,
            job.kind,
            job.attempts,
            job.max_attempts,
            "" if not final else ", giving up",
            exc,
            exc_info=exc,
        )
        async with unit_of_work(factory) as db:
            await JobRepository(db).fail(job.id, f"{type(exc).__name__}: {exc}", retry_at)
    return True


async def maintain(factory: async_sessionmaker[AsyncSession]) -> None:
    """Periodic housekeeping: purge conclusions soft-deleted a while ago."""
    async with unit_of_work(factory) as db:
        purged = await DeletionRepository(db).purge_deleted_conclusions(CONCLUSION_PURGE_AGE)
    if purged:
        log.info("purged %d deleted conclusions", purged)


async def run_forever(factory: async_sessionmaker[AsyncSession], stop: asyncio.Event) -> None:
    """Run jobs until ``stop`` is set; poll when idle. A database error is logged, not fatal."""
    worker = worker_id()
    log.info("worker %s started", worker)
    loop = asyncio.get_running_loop()
    next_maintenance = loop.time()
    while not stop.is_set():
        try:
            if loop.time() >= next_maintenance:
                next_maintenance = loop.time() + MAINTENANCE_EVERY_SECONDS
                await maintain(factory)
            busy = await run_once(factory, worker)
        except Exception:  # keep the loop alive through database hiccups
            log.exception("worker step failed; retrying")
            busy = False
        if not busy:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), IDLE_POLL_SECONDS)
    log.info("worker %s stopped", worker)
