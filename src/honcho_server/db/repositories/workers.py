"""SQL for the ``workers`` registry: who is running, and since when they last said so."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Worker, table
from .paging import AnyRow

W = table(Worker)


class WorkerRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def beat(self, worker: str, *, embedder: str | None, version: str) -> None:
        stmt = insert(W).values(id=worker, embedder=embedder, version=version)
        stmt = stmt.on_conflict_do_update(
            index_elements=[W.c.id], set_={"heartbeat_at": func.now(), "embedder": embedder}
        )
        await self.db.execute(stmt)

    async def leave(self, worker: str) -> None:
        await self.db.execute(delete(W).where(W.c.id == worker))

    async def all(self) -> list[AnyRow]:
        stmt = select(W.c.id, W.c.started_at, W.c.heartbeat_at, W.c.embedder, W.c.version).order_by(
            W.c.started_at
        )
        return list((await self.db.execute(stmt)).all())
