"""Health that tells the truth: database, workers, queue, failures, embedder."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from .. import HONCHO_API_VERSION, __version__
from ..db.repositories.status import StatusRepository
from ..db.repositories.workers import WorkerRepository
from ..llm.config import describe_llm as describe_llm
from ..queue import STALE_AFTER
from ..queue.payloads import BULK_KINDS
from ..queue.reads import QueueReads
from ..schemas.status import FailedJob, QueueSummary, Status, WorkerStatus
from ..settings import Settings

WORKER_ALIVE_WITHIN = timedelta(seconds=30)
BACKLOG_WARNING_SECONDS = 300


def describe_embedder(settings: Settings) -> str:
    if settings.embedding_provider == "local":
        return f"local all-MiniLM-L6-v2 int8 ONNX ({settings.embedding_dimensions} dimensions)"
    where = settings.embedding_base_url or "the OpenAI API"
    return (
        f"OpenAI-compatible {settings.embedding_model} at {where} "
        f"({settings.embedding_dimensions} dimensions)"
    )


async def status(
    db: AsyncSession,
    *,
    embedder: str,
    llm: list[str] | None = None,
    stale_after: timedelta = STALE_AFTER,
) -> Status:
    repo = StatusRepository(db)
    jobs = QueueReads(db)
    started = time.perf_counter()
    await repo.snapshot()
    latency_ms = (time.perf_counter() - started) * 1000
    now = datetime.now(UTC)
    workers = [
        WorkerStatus(
            id=w.id,
            started_at=w.started_at,
            heartbeat_at=w.heartbeat_at,
            alive=now - w.heartbeat_at <= WORKER_ALIVE_WITHIN,
            embedder=w.embedder,
            version=w.version,
            outages=(w.report or {}).get("outages", []),
            missing=(w.report or {}).get("missing", []),
            endpoints=(w.report or {}).get("endpoints", []),
            llm=(w.report or {}).get("llm", []),
            bulk_paced_since=(w.report or {}).get("bulk_paced_since"),
        )
        for w in await WorkerRepository(db).all()
    ]
    q = await jobs.queue(stale_after)
    by_kind: dict[str, dict[str, int]] = {}
    for row in await jobs.by_kind():
        by_kind.setdefault(row.kind, {})[row.status] = int(row.n)
    queue = QueueSummary(
        pending=q.todo,
        due=q.due,
        running=q.doing,
        failed=q.failed,
        succeeded=q.succeeded,
        superseded=q.superseded,
        orphaned=q.orphaned,
        oldest_pending_age_seconds=float(q.oldest) if q.oldest is not None else None,
        by_kind=by_kind,
    )
    failed = [
        FailedJob(
            id=f.id,
            kind=f.kind,
            attempts=f.attempts,
            last_error=f.last_error,
            raw_output=f.raw_output,
            finished_at=f.finished_at,
            workspace_id=f.workspace_name,
            session_id=f.session_name,
        )
        for f in await jobs.failed()
    ]
    problems = _problems(workers, queue)
    reported = list(dict.fromkeys(line for w in workers if w.alive for line in w.llm))
    return Status(
        status="degraded" if problems else "ok",
        version=__version__,
        honcho_api_version=HONCHO_API_VERSION,
        problems=problems,
        database={"ok": True, "latency_ms": round(latency_ms, 2)},
        workers=workers,
        queue=queue,
        failed_jobs=failed,
        embedder=embedder,
        llm=reported or llm or [],
        llm_source="workers" if reported else "this process",
    )


def _problems(workers: list[WorkerStatus], queue: QueueSummary) -> list[str]:
    problems = []
    alive = [w for w in workers if w.alive]
    if not alive:
        problems.append("no worker is running: background jobs are not being processed")
    problems += _dependency_problems(alive, queue)
    if queue.orphaned:
        problems.append(
            f"{queue.orphaned} job(s) running with no live worker (orphaned); the next "
            "stale-job sweep re-queues them, or run `honcho-server retry`"
        )
    if queue.failed:
        problems.append(f"{queue.failed} job(s) failed for good (see failed_jobs)")
    age = queue.oldest_pending_age_seconds
    if age is not None and age > BACKLOG_WARNING_SECONDS and queue.due:
        paced = [w.id for w in alive if w.bulk_paced_since is not None]
        bulk = any(queue.by_kind.get(kind, {}).get("todo") for kind in BULK_KINDS)
        problems.append(
            f"the oldest pending job has waited {int(age)} s"
            + (
                f" (worker {', '.join(paced)} embeds only EMBED_SHARE_WHEN_BUSY of the time "
                "while its API is busy; run a separate `honcho-server worker` to keep up)"
                if paced and bulk
                else ""
            )
        )
    return problems


def _waiting(queue: QueueSummary, kinds: list[str]) -> str:
    counts = {k: queue.by_kind.get(k, {}).get("todo", 0) for k in kinds}
    total = sum(counts.values())
    named = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    return f"{total} job(s) wait" + (f" ({named})" if named else "")


def _last_answers(workers: list[WorkerStatus]) -> dict[str, datetime]:
    """endpoint → the latest time any of ``workers`` got an answer from it."""
    last: dict[str, datetime] = {}
    for worker in workers:
        for endpoint in worker.endpoints:
            if endpoint.get("last_ok"):
                when = datetime.fromisoformat(str(endpoint["last_ok"]))
                name = str(endpoint.get("endpoint"))
                last[name] = max(when, last.get(name, when))
    return last


def _dependency_problems(alive: list[WorkerStatus], queue: QueueSummary) -> list[str]:
    """What the live workers report: endpoints down (named, with how long), and kinds that
    no live worker can run because it has no model for them."""
    problems: list[str] = []
    now = datetime.now(UTC)
    seen: set[str] = set()
    answered = _last_answers(alive)
    for worker in alive:
        for outage in worker.outages:
            endpoint = str(outage.get("endpoint"))
            since = datetime.fromisoformat(str(outage.get("since")))
            if endpoint in seen or answered.get(endpoint, since) > since:
                continue  # another worker has heard from it since this one lost it
            seen.add(endpoint)
            down_for = int((now - since).total_seconds())
            problems.append(
                f"{endpoint} unreachable for {down_for} s ({outage.get('error')}); "
                f"{_waiting(queue, list(outage.get('kinds') or []))} until it answers"
            )
    runnable_somewhere: set[str] = set()
    reasons: dict[str, str] = {}
    for worker in alive:
        cannot = {k for m in worker.missing for k in m.get("kinds") or []}
        runnable_somewhere |= set(queue.by_kind) - cannot
        for m in worker.missing:
            for kind in m.get("kinds") or []:
                reasons.setdefault(kind, str(m.get("reason")))
    stuck = sorted(k for k in reasons if k not in runnable_somewhere)
    if alive and any(queue.by_kind.get(k, {}).get("todo") for k in stuck):
        why = sorted({reasons[k] for k in stuck})
        problems.append(
            f"{_waiting(queue, stuck)} for a dependency no worker has: {'; '.join(why)}"
        )
    return problems
