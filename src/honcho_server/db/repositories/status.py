"""Reads for the status view: queue depth and age, orphaned and failed jobs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from .paging import AnyRow

_QUEUE = text(
    """
    SELECT count(*) FILTER (WHERE status = 'todo') AS todo,
           count(*) FILTER (WHERE status = 'todo' AND scheduled_at <= now()) AS due,
           count(*) FILTER (WHERE status = 'doing') AS doing,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE status = 'superseded') AS superseded,
           count(*) FILTER (WHERE status = 'doing'
                              AND heartbeat_at < now() - CAST(:stale_after AS interval))
             AS orphaned,
           extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'todo')) AS oldest
    FROM jobs
    """
)
_BY_KIND = text(
    "SELECT kind, status, count(*) AS n FROM jobs"
    " WHERE status NOT IN ('succeeded', 'superseded') "
    "GROUP BY kind, status ORDER BY kind, status"
)
_FAILED = text(
    """
    SELECT id, kind, attempts, last_error, raw_output, finished_at, workspace_name, session_name
    FROM jobs WHERE status = 'failed' ORDER BY finished_at DESC NULLS LAST, id DESC LIMIT :n
    """
)


class StatusRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def snapshot(self) -> None:
        """Read everything that follows from one snapshot, so the counts agree with the lists.
        Must be the transaction's first statement."""
        await self.db.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))

    async def queue(self, stale_after: timedelta) -> AnyRow:
        return (await self.db.execute(_QUEUE, {"stale_after": stale_after})).one()

    async def by_kind(self) -> list[AnyRow]:
        return list((await self.db.execute(_BY_KIND)).all())

    async def failed(self, limit: int = 20) -> list[AnyRow]:
        return list((await self.db.execute(_FAILED, {"n": limit})).all())
