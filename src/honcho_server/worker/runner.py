"""The worker loop. ``run_once`` is one testable step; ``run_forever`` adds the rest.

The transitions are those of ``queue.states`` (claim, succeed, fail, wait, release, stale):
a claim commits on its own, so a crash leaves the job visibly ``doing`` until its heartbeat
goes stale and any worker re-queues it. A failure that is the job's own spends an attempt
(backoff, then ``failed``, kept with its error and retryable); a dependency that is down
(``LLMUnavailable``, ``EmbedderUnavailable``) spends none: the job waits and the worker's
gates (``worker.gates``) stop claiming its kind until the dependency answers again.

Batches: one claim may take several first-attempt jobs of a batchable kind (message
embeddings, ``queue.payloads.EMBED_BATCH_JOBS``); their batch handler does them in one go and
completes them in one statement. If the batch fails, its jobs run again one at a time in the
same step (each with its own success, failure and attempts), so one poison job fails alone.
A worker killed mid-batch leaves every job of it ``doing``; each is recovered on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .. import __version__
from ..db.connectivity import driver_error, outage_reason
from ..db.repositories.workers import WorkerRepository
from ..db.session import unit_of_work
from ..embeddings import EmbedderUnavailable, EmbeddingError
from ..llm import LLMError, LLMOutputInvalid, LLMUnavailable
from ..observability import metrics
from ..queue import Claim, ClaimedJob, QueueRepository
from ..queue.payloads import BULK_PRIORITY, batch_rules
from .context import JobContext, WorkerServices
from .gates import Gates, probe_endpoint
from .listener import listen
from .maintenance import maintain, requeue_stale_jobs
from .registry import lookup, lookup_batch
from .waker import Settable, Waker

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 2.0  # the fallback when no notification arrives
HEARTBEAT_SECONDS = 10.0
DATABASE_WAIT_SECONDS = 120.0  # how long a job keeps trying to go back to the queue
REPORT_POLL_SECONDS = 1.0  # how soon a dependency found down shows in /status
SHUTDOWN_GRACE_SECONDS = 20.0
STALE_SWEEP_SECONDS = 15.0
MAINTENANCE_EVERY_SECONDS = 300.0
BASE_BACKOFF_SECONDS = 2.0


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"


def backoff(attempt: int, base: float = BASE_BACKOFF_SECONDS) -> timedelta:
    return timedelta(seconds=base * 2 ** max(attempt - 1, 0))


async def _claim(
    factory: async_sessionmaker[AsyncSession],
    worker: str,
    gates: Gates,
    *,
    bulk_first: bool = False,
) -> Claim | None:
    """``claim``: the next job this worker may run (or a batch of them, see
    ``QueueRepository.claim``). With ``bulk_first``, bulk work (embeddings) is taken first
    (in the same statement), so no amount of other work can starve it."""
    blocked = gates.blocked_kinds()
    prefer = BULK_PRIORITY if bulk_first else -32768
    try:
        with gates.claiming() as bulk:  # bulk work held back (worker.pacing): not even read
            async with unit_of_work(factory) as db:
                claim = await QueueRepository(db).claim(
                    worker,
                    blocked=blocked,
                    max_priority=32767 if bulk else BULK_PRIORITY - 1,
                    prefer=prefer,
                    batch=batch_rules(),
                )
    except IntegrityError:
        # Another worker claimed a job of the same work unit at the same instant; the unique
        # index on running lock keys stopped us. Nothing was changed; try again next step.
        return None
    if claim is not None:
        gates.claimed(claim.jobs[0].kind)
    return claim


#: Outcomes after which the job is back in the queue, maybe due at once.
_BACK_IN_QUEUE = frozenset({"waited", "retried"})


async def _execute(ctx: JobContext, job: ClaimedJob, backoff_base: float) -> str:
    """Run one job and record how it ended; returns the outcome."""
    gates = ctx.services.gates
    started = time.monotonic()
    try:
        kind = lookup(job.kind)
        await kind.handler(ctx, kind.payload.model_validate(job.payload))
        if not ctx.completed:
            async with unit_of_work(ctx.factory) as db:
                await QueueRepository(db).succeed(ctx.job_id, ctx.usage)
        outcome = ctx.outcome or "succeeded"
        metrics.job_finished(job.kind, outcome, time.monotonic() - started)
    except asyncio.CancelledError:
        gates.finished(job.kind)
        metrics.job_finished(job.kind, "released", time.monotonic() - started)
        raise
    except (LLMUnavailable, EmbedderUnavailable) as exc:
        # ``wait``: the dependency is down, not the job at fault. The breaker logs the
        # outage once; the job goes back untouched.
        _record_spent(ctx, exc)
        gates.down(job.kind, str(exc))
        async with unit_of_work(ctx.factory) as db:
            state = await QueueRepository(db).wait(job.id, f"waiting: {exc}", usage=ctx.usage)
        outcome = "superseded" if state == "superseded" else "waited"
        metrics.job_finished(job.kind, outcome, time.monotonic() - started)
        return outcome
    except Exception as exc:
        if outage_reason(exc) is not None:
            # the database went away under the job: not the job's fault either
            outcome = await _wait_for_database(ctx, job, exc)
        else:  # the job's own failure: recorded on it, loudly
            outcome = await _fail(ctx, job, exc, backoff_base)
        metrics.job_finished(job.kind, outcome, time.monotonic() - started)
    if ctx.usage.get("requests") or job.kind in ("embed_messages", "embed_conclusions"):
        gates.answered(job.kind)
    else:
        gates.finished(job.kind)
    return outcome


async def _execute_batch(
    factory: async_sessionmaker[AsyncSession],
    services: WorkerServices,
    jobs: list[ClaimedJob],
    backoff_base: float,
) -> list[str]:
    """Run a batch of jobs of one kind with its batch handler (one success for all); if
    that fails for a reason of the jobs' own, run each alone (each with its own outcome).
    Returns the outcomes."""
    kind = jobs[0].kind
    gates = services.gates
    started = time.monotonic()
    ids = tuple(j.id for j in jobs)
    ctx = JobContext(ids[0], jobs[0].attempts, factory, services, batch_ids=ids)
    try:
        batch = lookup_batch(kind)
        payloads = [batch.payload.model_validate(j.payload) for j in jobs]
        await batch.handler(ctx, payloads)
        if not ctx.completed:
            async with unit_of_work(factory) as db:
                await QueueRepository(db).succeed_many(ids)
    except asyncio.CancelledError:
        gates.finished(kind)
        for _ in jobs:
            metrics.job_finished(kind, "released", time.monotonic() - started)
        raise
    except (LLMUnavailable, EmbedderUnavailable) as exc:
        gates.down(kind, str(exc))  # every job of the batch waits, none at fault
        outcomes = []
        for job in jobs:
            async with unit_of_work(factory) as db:
                state = await QueueRepository(db).wait(job.id, f"waiting: {exc}")
            outcomes.append("superseded" if state == "superseded" else "waited")
            metrics.job_finished(kind, outcomes[-1], time.monotonic() - started)
        return outcomes
    except Exception as exc:
        log.info(
            "a batch of %d %s jobs failed (%s: %s); running them one at a time",
            len(jobs),
            kind,
            type(exc).__name__,
            exc,
        )
        return [
            await _execute(JobContext(j.id, j.attempts, factory, services), j, backoff_base)
            for j in jobs
        ]
    elapsed = time.monotonic() - started
    for _ in jobs:
        metrics.job_finished(kind, "succeeded", elapsed)
    gates.answered(kind)
    return ["succeeded"] * len(jobs)


async def _fail(ctx: JobContext, job: ClaimedJob, exc: Exception, backoff_base: float) -> str:
    """``fail``: one attempt spent; back to the queue after a backoff, or failed for good.
    One log line per attempt; a traceback only for an unexpected error's last attempt.
    Returns the outcome: ``retried``, ``failed`` or ``superseded``."""
    _record_spent(ctx, exc)
    final = job.attempts >= job.max_attempts
    retry_at = None if final else datetime.now(UTC) + backoff(job.attempts, backoff_base)
    expected = isinstance(exc, (LLMError, EmbeddingError, ValidationError))
    log.error(
        "job %d (%s) attempt %d/%d failed%s: %s: %s",
        job.id,
        job.kind,
        job.attempts,
        job.max_attempts,
        ", giving up" if final else "",
        type(exc).__name__,
        exc,
        exc_info=exc if final and not expected else None,
    )
    raw = exc.raw if isinstance(exc, LLMOutputInvalid) else None
    if isinstance(exc, LLMError):  # the model answered (badly): the endpoint is up
        ctx.services.gates.answered(job.kind)
    async with unit_of_work(ctx.factory) as db:
        state = await QueueRepository(db).fail(
            job.id, f"{type(exc).__name__}: {exc}", retry_at, usage=ctx.usage, raw_output=raw
        )
    if state == "superseded":
        return "superseded"
    return "failed" if final else "retried"


async def _wait_for_database(ctx: JobContext, job: ClaimedJob, exc: Exception) -> str:
    """``wait`` for a job the database failed under, written as soon as the database is
    back (tried for ``DATABASE_WAIT_SECONDS``; after that the job stays ``doing`` and the
    stale sweep recovers it). No attempt is spent and nothing is logged per job: the
    outage itself is reported (rate-limited) by the lanes and the API."""
    _record_spent(ctx, exc)
    ctx.services.gates.finished(job.kind)
    reason = f"waiting: the database was unavailable ({outage_reason(exc)})"
    deadline = time.monotonic() + DATABASE_WAIT_SECONDS
    while True:
        try:
            async with unit_of_work(ctx.factory) as db:
                state = await QueueRepository(db).wait(job.id, reason, usage=ctx.usage)
            return "superseded" if state == "superseded" else "waited"
        except Exception as again:
            if outage_reason(again) is None or time.monotonic() > deadline:
                raise
            await asyncio.sleep(1.0)


def _record_spent(ctx: JobContext, exc: BaseException) -> None:
    spent = getattr(exc, "usage", None)  # LLM errors carry what they spent
    if spent is not None and hasattr(spent, "as_dict"):
        ctx.record_usage(spent)


def heartbeat_seconds(stale_after: float) -> float:
    """How often a running job says it is alive: well inside ``stale_after``."""
    return min(HEARTBEAT_SECONDS, stale_after / 3)


async def _heartbeat(
    factory: async_sessionmaker[AsyncSession], job_ids: list[int], every: float
) -> None:
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(Exception):  # a missed beat only risks a later re-queue
            async with unit_of_work(factory) as db:
                await QueueRepository(db).heartbeat(job_ids)


async def run_once(
    factory: async_sessionmaker[AsyncSession],
    worker: str,
    services: WorkerServices | None = None,
    *,
    stop: asyncio.Event | None = None,
    grace: float = SHUTDOWN_GRACE_SECONDS,
    backoff_base: float = BASE_BACKOFF_SECONDS,
    claimed: Settable | None = None,
    bulk_first: bool = False,
) -> bool:
    """Claim and run one job (or one batch); False when there was nothing this worker may
    run.

    If ``stop`` is set while the job runs, it gets ``grace`` seconds to finish; then it is
    cancelled and released back to the queue without using up an attempt. ``claimed`` is
    set when the claim left another job ready (so another lane can take it at once).
    """
    step = await _step(
        factory,
        worker,
        services,
        stop=stop,
        grace=grace,
        backoff_base=backoff_base,
        claimed=claimed,
        bulk_first=bulk_first,
    )
    return step is not None


async def _step(
    factory: async_sessionmaker[AsyncSession],
    worker: str,
    services: WorkerServices | None = None,
    *,
    stop: asyncio.Event | None = None,
    grace: float = SHUTDOWN_GRACE_SECONDS,
    backoff_base: float = BASE_BACKOFF_SECONDS,
    claimed: Settable | None = None,
    bulk_first: bool = False,
) -> bool | None:
    """:func:`run_once`: None when nothing was claimed; else whether more work may be ready
    now (the claim left a job waiting, or a job went back to the queue)."""
    services = services or WorkerServices()
    claim = await _claim(factory, worker, services.gates, bulk_first=bulk_first)
    if claim is None:
        return None
    if claim.ready and claimed is not None:
        claimed.set()
    jobs = claim.jobs
    work: asyncio.Task[list[str]] = asyncio.create_task(
        _execute_batch(factory, services, jobs, backoff_base)
        if len(jobs) > 1
        else _execute_one(factory, services, jobs[0], backoff_base)
    )
    every = heartbeat_seconds(services.settings.job_stale_after_seconds)
    beat = asyncio.create_task(_heartbeat(factory, [j.id for j in jobs], every))
    with services.gates.paced(jobs[0].kind):  # bulk work counted (worker.pacing)
        try:
            if stop is not None:
                await _first_of(work, stop.wait())
                if not work.done():
                    done, _ = await asyncio.wait({work}, timeout=grace)
                    if not done:
                        work.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await work
                        for job in jobs:  # those of a batch still running (a no-op for the rest)
                            async with unit_of_work(factory) as db:
                                state = await QueueRepository(db).wait(
                                    job.id, "released unfinished at shutdown"
                                )
                            if state is not None:
                                log.warning(
                                    "released job %d (%s) unfinished at shutdown", job.id, job.kind
                                )
                        return True
            outcomes = await work
        finally:
            beat.cancel()
    return claim.ready or any(o in _BACK_IN_QUEUE for o in outcomes)


async def _execute_one(
    factory: async_sessionmaker[AsyncSession],
    services: WorkerServices,
    job: ClaimedJob,
    backoff_base: float,
) -> list[str]:
    ctx = JobContext(job.id, job.attempts, factory, services)
    return [await _execute(ctx, job, backoff_base)]


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
    wake = Waker()  # one listener per process; each notification goes to one idle lane
    listener = None
    if database_url is not None:
        listener = asyncio.create_task(listen(database_url, wake, stop), name="job-listener")
    log.info("worker %s started (%d lanes)", worker, concurrency)
    services = services or WorkerServices()
    if services.gates.pacing is not None:
        services.gates.pacing.on_free = wake.set  # a hold's end wakes a lane
    lanes = [
        asyncio.create_task(
            _lane(factory, stop, wake, worker, services, bulk_first=n == 0), name=f"lane-{n}"
        )
        for n in range(max(1, concurrency))
    ]
    try:
        await _housekeeping(factory, stop, worker, embedder_name, services)
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
    wake: Waker,
    worker: str,
    services: WorkerServices,
    *,
    bulk_first: bool = False,
) -> None:
    """One job at a time until ``stop``; sleeps until woken (or the poll interval) when idle.
    The first lane of a worker looks for bulk work (embeddings) first."""
    while not stop.is_set():
        try:
            # A claim that leaves work ready wakes one more lane, so a burst of jobs spreads
            # over the lanes instead of waiting for this one, and this lane claims again when
            # done; otherwise it sleeps until a notification (or the poll) wakes it, rather
            # than sending a claim that would find nothing.
            ready = await _step(
                factory, worker, services, stop=stop, claimed=wake, bulk_first=bulk_first
            )
        except Exception as exc:  # keep the lane alive through database outages
            _step_failed.report(exc)
            ready = False
        if not ready and await wake.wait(IDLE_POLL_SECONDS, stop):
            await wake.gather(stop)  # more work may arrive for the same claim


class _RateLimitedWarning:
    """One warning line per ``every`` seconds, however often it happens (a database outage
    makes every lane fail every step), with how many were not printed."""

    def __init__(self, what: str, every: float = 30.0) -> None:
        self.what, self.every = what, every
        self.last, self.skipped = -every, 0

    def report(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            self.skipped += 1
            return
        more = f" ({self.skipped} more since the last report)" if self.skipped else ""
        log.warning("%s: %s%s; retrying", self.what, one_line(exc), more)
        self.last, self.skipped = now, 0


_step_failed = _RateLimitedWarning("worker step failed")


def one_line(exc: BaseException, limit: int = 300) -> str:
    """``Type: first line`` of an error, the driver's own inside SQLAlchemy's wrapping: a
    wrapped error's text carries the whole statement, dozens of lines per warning during an
    outage, where one line says what is wrong."""
    cause = driver_error(exc)
    lines = str(cause).strip().splitlines()
    first = lines[0] if lines else ""
    return f"{type(cause).__name__}: {first[:limit]}"


_housekeeping_failed = _RateLimitedWarning("worker housekeeping failed")


async def _housekeeping(
    factory: async_sessionmaker[AsyncSession],
    stop: asyncio.Event,
    worker: str,
    embedder_name: str | None,
    services: WorkerServices,
) -> None:
    """Registry heartbeat (with what this worker sees of its dependencies, written at once
    when that changes), stale-job recovery and maintenance, on their own clocks."""
    gates = services.gates
    stale_after = timedelta(seconds=services.settings.job_stale_after_seconds)
    ttl = timedelta(seconds=services.settings.idempotency_key_ttl_seconds)
    loop = asyncio.get_running_loop()
    next_sweep = next_maintenance = next_beat = loop.time()
    reported = -1
    while not stop.is_set():
        try:
            for endpoint, url, key in gates.due_probes():
                gates.probed(endpoint, await probe_endpoint(url, key))
            now = loop.time()
            if now >= next_beat or gates.version != reported:
                next_beat, reported = now + HEARTBEAT_SECONDS, gates.version
                async with unit_of_work(factory) as db:
                    await WorkerRepository(db).beat(
                        worker, embedder=embedder_name, version=__version__, report=gates.report()
                    )
            if now >= next_sweep:
                next_sweep = now + min(STALE_SWEEP_SECONDS, stale_after.total_seconds() / 2)
                await requeue_stale_jobs(factory, stale_after)
            if now >= next_maintenance:
                next_maintenance = now + MAINTENANCE_EVERY_SECONDS
                await maintain(factory, ttl)
        except Exception as exc:
            _housekeeping_failed.report(exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), REPORT_POLL_SECONDS)


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
