"""The deriver's backlog as ``GET /deriver/metrics`` reports it (upstream Honcho 3.1.2+).

Upstream serves a snapshot its poller refreshes; here every request measures the queue (one
read of the open jobs, see :meth:`honcho_server.queue.reads.QueueReads.backlog`), so the
measurement is never older than the request (``measurement_age_seconds`` is 0).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ..queue.reads import Backlog, QueueReads
from ..schemas.deriver_metrics import DeriverMetrics

ACTIVE_WORK_SECONDS = 1800.0
"""``outstanding_work_seconds`` while work is ready or running: upstream reports its
``DERIVER_REPRESENTATION_BATCH_MAX_AGE_SECONDS`` (default 1800) then, a constant its
autoscaler reads as "keep workers"."""


def outstanding_work_seconds(backlog: Backlog) -> float:
    """:data:`ACTIVE_WORK_SECONDS` when anything can run or runs now, else the age of the
    oldest waiting item (work waiting for later: a retry's back-off, a dream's quiet time),
    else 0."""
    if (
        backlog.eligible_work_units
        or backlog.claimed_work_units
        or backlog.embeddings_pending_due
        or backlog.dreams_due
    ):
        return ACTIVE_WORK_SECONDS
    if backlog.pending_items:
        return backlog.oldest_pending_age_seconds
    return 0.0


async def deriver_metrics(
    db: AsyncSession, *, stale_after: timedelta, workspace: str | None = None
) -> DeriverMetrics:
    """The whole queue's backlog, or one workspace's (zeros for an unknown one)."""
    backlog = await QueueReads(db).backlog(stale_after, workspace)
    return DeriverMetrics(
        outstanding_work_seconds=outstanding_work_seconds(backlog),
        eligible_work_units=backlog.eligible_work_units,
        claimed_work_units=backlog.claimed_work_units,
        pending_items=backlog.pending_items,
        oldest_pending_age_seconds=backlog.oldest_pending_age_seconds,
        embeddings_pending=backlog.embeddings_pending,
        embeddings_pending_due=backlog.embeddings_pending_due,
        dreams_due=backlog.dreams_due,
        measured_at=backlog.measured_at,
        measurement_age_seconds=0.0,
    )
