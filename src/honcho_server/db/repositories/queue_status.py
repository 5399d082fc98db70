"""SQL for queue status: a workspace's jobs counted by state, per session, in one query."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Job, table

J = table(Job)


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


class QueueStatusRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def counts_by_session(self, f: JobFilter) -> list[StateCounts]:
        stmt = (
            select(
                J.c.session_name,
                func.count().filter(J.c.status.in_(["succeeded", "failed"])),
                func.count().filter(J.c.status == "doing"),
                func.count().filter(J.c.status == "todo"),
            )
            .where(*_conditions(f))
            .group_by(J.c.session_name)
        )
        rows = (await self.db.execute(stmt)).all()
        return [StateCounts(r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows]
