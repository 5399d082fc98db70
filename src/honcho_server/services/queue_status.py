"""Queue status: a workspace's derivation jobs by state, in total and per session."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ..queue.reads import JobFilter, QueueReads, StateCounts
from ..schemas.queue import QueueStatus, SessionQueueStatus

DERIVATION_KINDS = frozenset({"derive", "summarize", "dream"})
"""The job kinds queue status counts (the deriver's work); webhook, deletion and other
housekeeping jobs are left out. Their payloads name ``observers`` (a list) or ``observer``,
and ``observed`` (the sender)."""


def _session(group: StateCounts) -> SessionQueueStatus:
    return SessionQueueStatus(
        session_id=group.session,
        total_work_units=group.completed + group.in_progress + group.pending,
        completed_work_units=group.completed,
        in_progress_work_units=group.in_progress,
        pending_work_units=group.pending,
    )


def summarise(groups: list[StateCounts], *, per_session: bool) -> QueueStatus:
    """Totals over every group; the per-session map leaves out jobs without a session and
    is ``None`` when empty or not wanted."""
    completed = sum(g.completed for g in groups)
    in_progress = sum(g.in_progress for g in groups)
    pending = sum(g.pending for g in groups)
    sessions = {g.session: _session(g) for g in groups if g.session is not None}
    return QueueStatus(
        total_work_units=completed + in_progress + pending,
        completed_work_units=completed,
        in_progress_work_units=in_progress,
        pending_work_units=pending,
        sessions=(sessions or None) if per_session else None,
    )


async def queue_status(
    db: AsyncSession,
    workspace: str,
    *,
    observer: str | None = None,
    sender: str | None = None,
    session: str | None = None,
) -> QueueStatus:
    """Filters combine with AND; empty strings count as absent; unknown names give zeros."""
    spec = JobFilter(
        workspace,
        DERIVATION_KINDS,
        session=session or None,
        observer=observer or None,
        sender=sender or None,
    )
    groups = await QueueReads(db).counts_by_session(spec)
    return summarise(groups, per_session=spec.session is None)
