"""Health that tells the truth: database, workers, queue, failures, embedder."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from .. import __version__
from ..db.repositories.status import StatusRepository
from ..db.repositories.workers import WorkerRepository
from ..llm.config import NO_LLM, llm_status
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


async def status(db: AsyncSession, *, embedder: str, llm: list[str] | None = None) -> Status:
    repo = StatusRepository(db)
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
        )
        for w in await WorkerRepository(db).all()
    ]
    q = await repo.queue()
    by_kind: dict[str, dict[str, int]] = {}
    for row in await repo.by_kind():
        by_kind.setdefault(row.kind, {})[row.status] = int(row.n)
    queue = QueueSummary(
        pending=q.todo,
        due=q.due,
        running=q.doing,
        failed=q.failed,
        succeeded=q.succeeded,
        oldest_pending_age_seconds=float(q.oldest) if q.oldest is not None else None,
        by_kind=by_kind,
    )
    failed = [
        FailedJob(
            id=f.id,
            kind=f.kind,
            attempts=f.attempts,
            last_error=f.last_error,
            finished_at=f.finished_at,
            workspace_id=f.workspace_name,
            session_id=f.session_name,
        )
        for f in await repo.failed()
    ]
    problems = _problems(workers, queue)
    return Status(
        status="degraded" if problems else "ok",
        version=__version__,
        problems=problems,
        database={"ok": True, "latency_ms": round(latency_ms, 2)},
        workers=workers,
        queue=queue,
        failed_jobs=failed,
        embedder=embedder,
        llm=llm or [],
    )


def _problems(workers: list[WorkerStatus], queue: QueueSummary) -> list[str]:
    problems = []
    if not any(w.alive for w in workers):
        problems.append("no worker is running: background jobs are not being processed")
    if queue.failed:
        problems.append(f"{queue.failed} job(s) failed for good (see failed_jobs)")
    age = queue.oldest_pending_age_seconds
    if age is not None and age > BACKLOG_WARNING_SECONDS and queue.due:
        problems.append(f"the oldest pending job has waited {int(age)} s")
    return problems


def describe_llm(settings: Settings) -> list[str]:
    """One line per LLM feature, or the single 'no LLM configured' line."""
    statuses = llm_status(settings)
    if not any(s.configured for s in statuses):
        return [NO_LLM]
    return [f"{s.feature}: {s.describe()}" for s in statuses]
