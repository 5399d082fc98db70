"""SQL for the ``workers`` registry: who is running, since when they last said so, and what
they see of their dependencies (``report``: LLM endpoints or embedder down, models missing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Worker, table

W = table(Worker)


@dataclass(frozen=True, slots=True)
class WorkerRow:
    """A worker's registry row: its heartbeat and its last report (``worker.gates``)."""

    id: str
    started_at: datetime
    heartbeat_at: datetime
    embedder: str | None
    version: str | None
    report: dict[str, Any] | None


class WorkerRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def beat(
        self,
        worker: str,
        *,
        embedder: str | None,
        version: str,
        report: dict[str, Any] | None = None,
    ) -> None:
        stmt = insert(W).values(id=worker, embedder=embedder, version=version, report=report)
        stmt = stmt.on_conflict_do_update(
            index_elements=[W.c.id],
            set_={"heartbeat_at": func.now(), "embedder": embedder, "report": report},
        )
        await self.db.execute(stmt)

    async def leave(self, worker: str) -> None:
        await self.db.execute(delete(W).where(W.c.id == worker))

    async def purge_dead(self, silent_for: timedelta) -> int:
        """Forget workers that stopped heartbeating long ago (killed, not stopped)."""
        stmt = delete(W).where(W.c.heartbeat_at < func.now() - silent_for).returning(W.c.id)
        return len((await self.db.execute(stmt)).all())

    async def all(self) -> list[WorkerRow]:
        """Every registered worker, oldest first."""
        stmt = select(
            W.c.id, W.c.started_at, W.c.heartbeat_at, W.c.embedder, W.c.version, W.c.report
        ).order_by(W.c.started_at)
        return [WorkerRow(*r) for r in (await self.db.execute(stmt)).all()]
