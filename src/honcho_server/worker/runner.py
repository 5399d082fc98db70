"""The worker loop. ``run_once`` is one testable step; ``run_forever`` adds the rest.

A job goes todo → doing (claimed and committed on its own, so a crash leaves it visibly
``doing`` until its heartbeat goes stale and any worker re-queues it) → succeeded, or back to
todo with exponential backoff after a failure, or failed for good after ``max_attempts``
(kept, with its last error, and retryable).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .. import __version__
from ..db.repositories.jobs import JobRepository
from ..db.repositories.paging import AnyRow
from ..db.repositories.workers import WorkerRepository
from ..db.session import unit_of_work
from .context import JobContext, WorkerServices
from .listener import listen
from .maintenance import maintain, requeue_stale_jobs
from .registry import lookup

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 2.0  # the fallback when no notification arrives
HEARTBEAT_SECONDS = 10.0
SHUTDOWN_GRACE_SECONDS = 20.0
STALE_SWEEP_SECONDS = 15.0
MAINTENANCE_EVERY_SECONDS = 300.0
BASE_BACKOFF_SECONDS = 2.0


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"


def backoff(attempt: int, base: float = BASE_BACKOFF_SECONDS) -> timedelta:
    return timedelta(seconds=base * 2 ** max(attempt - 1, 0))


async def _claim(factory: async_sessionmaker[AsyncSession], worker: str) -> AnyRow | None:
    try:
        async with unit_of_work(factory) as db:
            return await JobRepository(db).claim(worker)
    except IntegrityError:
        # Another worker claimed a job of the same work unit at the same instant; the unique
        # index on running lock keys stopped us. Nothing was changed; try again next step.
        return None


async def _execute(ctx: JobContext, job: AnyRow, backoff_base: float) -> None:
    try:
        kind = lookup(job.kind)
        await kind.handler(ctx, kind.payload.model_validate(job.payload))
        if not ctx.completed:
            async with unit_of_work(ctx.factory) as db:
                await JobRepository(db).succeed(ctx.job_id, ctx.usage)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # every failure is recorded on the job, loudly
        final = job.attempts >= job.max_attempts
        retry_at = None if final else datetime.now(UTC) + backoff(job.attempts, backoff_base)
        log.error(
            "job %d (%s) attempt %d/%d failed%s: %s",
            job.id,
            job.kind,
            job.attempts,
            job.max_attempts,
            ", giving up" if final else "",
            exc,
            exc_info=exc,
        )
        async with unit_of_work(ctx.factory) as db:
            spent = getattr(exc, "usage", None)  # LLM errors carry what they spent
            if spent is not None and hasattr(spent, "as_dict"):
                ctx.record_usage(spent)
            await JobRepository(db).fail(
                job.id, f"{type(exc).__name__}: {exc}", retry_at, ctx.usage
            )


async def _heartbeat(factory: async_sessionmaker[AsyncSession], job_id: int) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        with contextlib.suppress(Exception):  # a missed beat only risks a later re-queue
            async with unit_of_work(factory) as db:
                await JobRepository(db).heartbeat(job_id)


async def run_once(
    factory: async_sessionmaker[AsyncSession],
    worker: str,
    services: WorkerServices | None = None,
    *,
    stop: asyncio.Event | None = None,
    grace: float = SHUTDOWN_GRACE_SECONDS,
    backoff_base: float = BASE_BACKOFF_SECONDS,
    claimed: asyncio.Event | None = None,
) -> bool:
    """Claim and run one job; False when there was nothing to run.

    If ``stop`` is set while the job runs, it gets ``grace`` seconds to finish; then it is
    cancelled and released back to the queue without using up an attempt.
    """
    job = await _claim(factory, worker)
    if job is None:
        return False
    if claimed is not None:
        claimed.set()
    ctx = JobContext(job.id, job.attempts, factory, services or WorkerServices())
    work = asyncio.create_task(_execute(ctx, job, backoff_base))
    beat = asyncio.create_task(_heartbeat(factory, job.id))
    try:
        if stop is not None:
            await _first_of(work, stop.wait())
            if not work.done():
                done, _ = await asyncio.wait({work}, timeout=grace)
                if not done:
                    work.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await work
                    async with unit_of_work(factory) as db:
                        await JobRepository(db).release(job.id)
                    log.warning("released job %d (%s) unfinished at shutdown", job.id, job.kind)
                    return True
        await work
    finally:
        beat.cancel()
    return True


async def run_forever(
    factory: async_sessionmaker[AsyncSession],
    stop: asyncio.Event,
    *,
    database_url: str | None = None,
    services: WorkerServices | None = None,
    embedder_name: str | None = None,
    concurrency: int = 4,
) -> None:
    """Run jobs until ``stop``, ``concurrency`` at a time (so one slow job — a webhook to a
    slow receiver, a long LLM call — never stalls the rest). Wakes on NOTIFY (when
    ``database_url`` is given), polls as the guarantee, re-queues jobs of dead workers, and
    keeps its registry heartbeat fresh."""
    worker = worker_id()
    wake = asyncio.Event()
    listener = None
    if database_url is not None:
        listener = asyncio.create_task(listen(database_url, wake, stop), name="job-listener")
    log.info("worker %s started (%d lanes)", worker, concurrency)
    lanes = [
        asyncio.create_task(_lane(factory, stop, wake, worker, services), name=f"lane-{n}")
        for n in range(max(1, concurrency))
    ]
    try:
        await _housekeeping(factory, stop, worker, embedder_name)
    finally:
        await asyncio.gather(*lanes)
        if listener is not None:
            await listener
        with contextlib.suppress(Exception):
            async with unit_of_work(factory) as db:
                await WorkerRepository(db).leave(worker)
        log.info("worker %s stopped", worker)


async def _lane(
    factory: async_sessionmaker[AsyncSession],
    stop: asyncio.Event,
    wake: asyncio.Event,
    worker: str,
    services: WorkerServices | None,
) -> None:
    """One job at a time until ``stop``; sleeps until woken (or the poll interval) when idle."""
    while not stop.is_set():
        wake.clear()
        try:
            # A successful claim sets `wake` again, so idle lanes also look for work: a burst
            # of jobs spreads over the lanes instead of waiting for this one.
            busy = await run_once(factory, worker, services, stop=stop, claimed=wake)
        except Exception:  # keep the lane alive through database hiccups
            log.exception("worker step failed; retrying")
            busy = False
        if not busy:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first_of(wake.wait(), stop.wait()), IDLE_POLL_SECONDS)


async def _housekeeping(
    factory: async_sessionmaker[AsyncSession],
    stop: asyncio.Event,
    worker: str,
    embedder_name: str | None,
) -> None:
    """Registry heartbeat, stale-job recovery and maintenance, on their own clocks."""
    loop = asyncio.get_running_loop()
    next_sweep = next_maintenance = loop.time()
    while not stop.is_set():
        try:
            async with unit_of_work(factory) as db:
                await WorkerRepository(db).beat(worker, embedder=embedder_name, version=__version__)
            now = loop.time()
            if now >= next_sweep:
                next_sweep = now + STALE_SWEEP_SECONDS
                await requeue_stale_jobs(factory)
            if now >= next_maintenance:
                next_maintenance = now + MAINTENANCE_EVERY_SECONDS
                await maintain(factory)
        except Exception:
            log.exception("worker housekeeping failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HEARTBEAT_SECONDS)


async def _first_of(*aws: Awaitable[object]) -> None:
    """Wait until the first of ``aws`` finishes; cancel the others (unless they are tasks
    owned by the caller, which are left running)."""
    futures = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for f, a in zip(futures, aws, strict=True):
            if f is not a:
                f.cancel()
