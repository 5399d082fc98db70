"""SQL for the ``jobs`` table: enqueue (in the caller's transaction), claim, finish."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Job, table
from .paging import AnyRow

J = table(Job)
BULK_PRIORITY = 10

# One statement claims the oldest runnable job: due, and not blocked by a running job of the
# same work unit. SKIP LOCKED lets concurrent workers pass over rows another worker is claiming.
_CLAIM = text(
    """
    UPDATE jobs SET status = 'doing', attempts = attempts + 1, started_at = now(),
                    heartbeat_at = now(), worker_id = :worker
    WHERE id = (
        SELECT j.id FROM jobs j
        WHERE j.status = 'todo' AND j.scheduled_at <= now()
          AND (j.lock_key IS NULL OR NOT EXISTS (
                SELECT 1 FROM jobs d WHERE d.lock_key = j.lock_key AND d.status = 'doing'))
        ORDER BY j.priority, j.scheduled_at, j.id
        FOR UPDATE SKIP LOCKED
        LIMIT 1
    )
    RETURNING id, kind, payload, attempts, max_attempts
    """
)


class JobRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        workspace: str | None = None,
        session: str | None = None,
        lock_key: str | None = None,
        dedupe_key: str | None = None,
        max_attempts: int = 5,
        priority: int = 0,
    ) -> None:
        """Insert a job in the current transaction (it exists only if the caller commits).

        Lower ``priority`` runs first; bulk work (embedding) uses ``BULK_PRIORITY``.
        """
        stmt = insert(J).values(
            kind=kind,
            priority=priority,
            payload=payload,
            workspace_name=workspace,
            session_name=session,
            lock_key=lock_key,
            dedupe_key=dedupe_key,
            max_attempts=max_attempts,
        )
        if dedupe_key is not None:
            stmt = stmt.on_conflict_do_nothing(
                index_elements=[J.c.dedupe_key],
                index_where=text("status = 'todo' AND dedupe_key IS NOT NULL"),
            )
        await self.db.execute(stmt)

    async def claim(self, worker: str) -> AnyRow | None:
        return (await self.db.execute(_CLAIM, {"worker": worker})).first()

    async def succeed(self, job_id: int, usage: dict[str, int] | None = None) -> None:
        values: dict[str, Any] = {
            "status": "succeeded",
            "finished_at": func.now(),
            "last_error": None,
        }
        if usage:
            values["usage"] = _add_usage(usage)
        await self.db.execute(update(J).where(J.c.id == job_id).values(values))

    async def fail(
        self,
        job_id: int,
        error: str,
        retry_at: datetime | None,
        usage: dict[str, int] | None = None,
    ) -> None:
        """Back to ``todo`` at ``retry_at``, or ``failed`` for good when ``retry_at`` is None."""
        values: dict[str, Any] = {"last_error": error[:4000], "worker_id": None}
        if usage:
            values["usage"] = _add_usage(usage)
        if retry_at is None:
            values.update(status="failed", finished_at=func.now())
        else:
            values.update(status="todo", scheduled_at=retry_at)
        await self.db.execute(update(J).where(J.c.id == job_id).values(values))

    async def heartbeat(self, job_id: int) -> None:
        await self.db.execute(
            update(J).where(J.c.id == job_id, J.c.status == "doing").values(heartbeat_at=func.now())
        )

    async def release(self, job_id: int) -> None:
        """Give a claimed job back untouched (graceful shutdown): the attempt does not count."""
        await self.db.execute(
            update(J)
            .where(J.c.id == job_id, J.c.status == "doing")
            .values(
                status="todo", attempts=J.c.attempts - 1, worker_id=None, scheduled_at=func.now()
            )
        )

    async def requeue_stale(self, older_than: timedelta) -> int:
        """Jobs whose worker stopped sending heartbeats go back to ``todo`` (or ``failed``
        when that was their last attempt). Returns how many were recovered."""
        stmt = text(
            """
            UPDATE jobs SET
                status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'todo' END,
                finished_at = CASE WHEN attempts >= max_attempts THEN now() END,
                scheduled_at = now(), worker_id = NULL,
                last_error = 'worker ' || coalesce(worker_id, '?') || ' stopped responding'
            WHERE status = 'doing' AND heartbeat_at < now() - CAST(:age AS interval)
            RETURNING id
            """
        )
        rows = (await self.db.execute(stmt, {"age": older_than})).all()
        return len(rows)

    async def retry_failed(self, job_ids: list[int] | None = None) -> int:
        """Put failed jobs back in the queue with fresh attempts (all of them if no ids)."""
        stmt = update(J).where(J.c.status == "failed")
        if job_ids is not None:
            stmt = stmt.where(J.c.id.in_(job_ids))
        stmt = stmt.values(status="todo", attempts=0, scheduled_at=func.now(), finished_at=None)
        return len((await self.db.execute(stmt.returning(J.c.id))).all())

    async def purge_succeeded(self, older_than: timedelta) -> int:
        """Forget jobs that succeeded long ago (failed ones stay until retried or removed)."""
        stmt = (
            delete(J)
            .where(J.c.status == "succeeded", J.c.finished_at < func.now() - older_than)
            .returning(J.c.id)
        )
        return len((await self.db.execute(stmt)).all())

    async def pending_count(self, workspace: str | None = None) -> int:
        stmt = select(func.count()).where(J.c.status.in_(["todo", "doing"]))
        if workspace is not None:
            stmt = stmt.where(J.c.workspace_name == workspace)
        return int(await self.db.scalar(stmt) or 0)


def _add_usage(usage: dict[str, int]) -> Any:
    """``usage`` added key by key to what earlier attempts already spent."""
    expr: Any = func.coalesce(J.c.usage, text("'{}'::jsonb"))
    for key, value in usage.items():
        total = func.coalesce(J.c.usage[key].as_integer(), 0) + int(value)
        expr = func.jsonb_set(expr, text(f"'{{{key}}}'"), func.to_jsonb(total))
    return expr
