"""Every read of the ``jobs`` table: the status view's queue depth, age, orphaned and failed
jobs, a workspace's queue status by session, and the deriver's backlog (``deriver/metrics``)
(writes are in :mod:`.repository`)."""

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


EMBEDDING_KINDS = ("embed_messages", "embed_conclusions")
"""Counted as texts waiting for the embedder, apart from the other work."""
NOT_WORK_KINDS = ("probe",)
"""A worker's checks of an endpoint it found down: not work anyone queued."""

# One pass over the open jobs (``todo`` and ``doing``; the workspace's alone when given).
# A work unit is a lock key (a job without one is its own unit); one is eligible when a job of
# it is due and no job of it runs, claimed when a job of it runs on a live worker.
_BACKLOG = """
    WITH open_jobs AS (
        SELECT id, kind, status, lock_key, scheduled_at, heartbeat_at, created_at, payload
        FROM jobs WHERE status IN ('todo', 'doing') {workspace}
    ), running AS (
        SELECT DISTINCT lock_key FROM open_jobs WHERE status = 'doing' AND lock_key IS NOT NULL
    ), work AS (
        SELECT o.*, coalesce(o.lock_key, 'job:' || o.id) AS unit,
               o.kind = ANY(CAST(:embedding AS text[])) AS embedding,
               r.lock_key IS NOT NULL AS unit_running,
               jsonb_array_length(coalesce(o.payload -> 'message_ids',
                                           o.payload -> 'conclusion_ids', '[]')) AS texts
        FROM open_jobs o LEFT JOIN running r ON r.lock_key = o.lock_key
        WHERE o.kind <> ALL(CAST(:not_work AS text[]))
    )
    SELECT
        count(DISTINCT unit) FILTER (WHERE NOT embedding AND status = 'todo'
            AND scheduled_at <= now() AND NOT unit_running) AS eligible,
        count(DISTINCT unit) FILTER (WHERE NOT embedding AND status = 'doing'
            AND heartbeat_at >= now() - CAST(:stale_after AS interval)) AS claimed,
        count(*) FILTER (WHERE NOT embedding AND status = 'todo') AS pending,
        coalesce(extract(epoch FROM now() - min(created_at)
            FILTER (WHERE NOT embedding AND status = 'todo')), 0) AS oldest,
        coalesce(sum(texts) FILTER (WHERE embedding), 0) AS embeddings,
        coalesce(sum(texts) FILTER (WHERE embedding AND (status = 'doing'
            OR scheduled_at <= now())), 0) AS embeddings_due,
        count(*) FILTER (WHERE kind = 'dream' AND status = 'todo'
            AND scheduled_at <= now()) AS dreams_due,
        extract(epoch FROM now()) AS measured_at
    FROM work
"""


@dataclass(frozen=True)
class Backlog:
    """Open background work, as ``deriver/metrics`` reports it (see :meth:`QueueReads.backlog`)."""

    eligible_work_units: int
    claimed_work_units: int
    pending_items: int
    oldest_pending_age_seconds: float
    embeddings_pending: int
    embeddings_pending_due: int
    dreams_due: int
    measured_at: float  # the database's clock, seconds since the epoch


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

    async def backlog(self, stale_after: timedelta, workspace: str | None = None) -> Backlog:
        """The open work of the whole queue, or of one workspace.

        * work units (lock keys; a job without one is a unit of its own) that could be
          claimed now (a job of the unit due, none of it running) and that are running on a
          worker still heartbeating within ``stale_after``;
        * waiting jobs (``pending_items``) and the age of the oldest (0 with none);
        * texts waiting for the embedder (ids in embedding jobs, running ones included) and
          those due now — embedding jobs are counted only here;
        * dream jobs due now.

        Jobs of every other kind count, as upstream's queue holds representation, summary,
        dream, webhook and deletion work alike; a worker's endpoint probes do not.
        """
        where = "AND workspace_name = :workspace" if workspace is not None else ""
        params: dict[str, Any] = {
            "embedding": list(EMBEDDING_KINDS),
            "not_work": list(NOT_WORK_KINDS),
            "stale_after": stale_after,
        }
        if workspace is not None:
            params["workspace"] = workspace
        row = (await self.db.execute(text(_BACKLOG.format(workspace=where)), params)).one()
        return Backlog(
            eligible_work_units=int(row.eligible),
            claimed_work_units=int(row.claimed),
            pending_items=int(row.pending),
            oldest_pending_age_seconds=max(0.0, float(row.oldest)),
            embeddings_pending=int(row.embeddings),
            embeddings_pending_due=int(row.embeddings_due),
            dreams_due=int(row.dreams_due),
            measured_at=float(row.measured_at),
        )

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
