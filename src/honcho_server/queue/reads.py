"""Every read of the ``jobs`` table: the status view's queue depth, age, orphaned and failed
jobs, and a workspace's queue status by session (writes are in :mod:`.repository`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import Job, table

J = table(Job)

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


@dataclass(frozen=True)
class StateCounts:
    """Counts of one session's jobs (``session`` is None for jobs without a session)."""

    session: str | None
    completed: int
    in_progress: int
    pending: int


@dataclass(frozen=True)
class JobFilter:
    """Which jobs count: the workspace, its kinds, and optional session/observer/sender."""

    workspace: str
    kinds: Collection[str]
    session: str | None = None
    observer: str | None = None
    sender: str | None = None


def _conditions(f: JobFilter) -> list[ColumnElement[bool]]:
    where = [J.c.workspace_name == f.workspace, J.c.kind.in_(list(f.kinds))]
    if f.session is not None:
        where.append(J.c.session_name == f.session)
    if f.observer is not None:  # derivation jobs list their observers; dreams name one
        where.append(
            or_(
                J.c.payload.contains({"observers": [f.observer]}),
                J.c.payload.contains({"observer": f.observer}),
            )
        )
    if f.sender is not None:
        where.append(J.c.payload.contains({"observed": f.sender}))
    return where


class QueueReads:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def queue(self, stale_after: timedelta) -> Any:
        return (await self.db.execute(_QUEUE, {"stale_after": stale_after})).one()

    async def by_kind(self) -> list[Any]:
        return list((await self.db.execute(_BY_KIND)).all())

    async def failed(self, limit: int = 20) -> list[Any]:
        return list((await self.db.execute(_FAILED, {"n": limit})).all())

    async def counts_by_session(self, f: JobFilter) -> list[StateCounts]:
        stmt = (
            select(
                J.c.session_name,
                func.count().filter(J.c.status.in_(["succeeded", "failed", "superseded"])),
                func.count().filter(J.c.status == "doing"),
                func.count().filter(J.c.status == "todo"),
            )
            .where(*_conditions(f))
            .group_by(J.c.session_name)
        )
        rows = (await self.db.execute(stmt)).all()
        return [StateCounts(r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows]

    async def busy_units(self, keys: Sequence[str]) -> set[str]:
        """The work-unit keys among ``keys`` with a job waiting (``dedupe_key``) or running
        (``lock_key``)."""
        stmt = text(
            "SELECT dedupe_key AS key FROM jobs WHERE status = 'todo'"
            " AND dedupe_key = ANY(CAST(:keys AS text[]))"
            " UNION SELECT lock_key FROM jobs WHERE status = 'doing'"
            " AND lock_key = ANY(CAST(:keys AS text[]))"
        )
        return {r.key for r in (await self.db.execute(stmt, {"keys": list(keys)})).all()}
