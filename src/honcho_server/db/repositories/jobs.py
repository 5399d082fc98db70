"""SQL for the ``jobs`` table: enqueue (in the caller's transaction), claim, finish."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Job, table
from .paging import AnyRow

J = table(Job)

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
        ORDER BY j.scheduled_at, j.id
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
    ) -> None:
        """Insert a job in the current transaction (it exists only if the caller commits)."""
        stmt = insert(J).values(
            kind=kind,
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

    async def succeed(self, job_id: int) -> None:
        await self.db.execute(
            update(J)
            .where(J.c.id == job_id)
            .values(status="succeeded", finished_at=func.now(), last_error=None)
        )

    async def fail(self, job_id: int, error: str, retry_at: datetime | None) -> None:
        """Back to ``todo`` at ``retry_at``, or ``failed`` for good when ``retry_at`` is None."""
        values: dict[str, Any] = {"last_error": error[:4000], "worker_id": None}
        if retry_at is None:
            values.update(status="failed", finished_at=func.now())
        else:
            values.update(status="todo", scheduled_at=retry_at)
        await self.db.execute(update(J).where(J.c.id == job_id).values(values))

    async def pending_count(self, workspace: str | None = None) -> int:
        stmt = select(func.count()).where(J.c.status.in_(["todo", "doing"]))
        if workspace is not None:
            stmt = stmt.where(J.c.workspace_name == workspace)
        return int(await self.db.scalar(stmt) or 0)
