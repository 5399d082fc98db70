"""The status view's snapshot (its queue reads are ``queue.reads``)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


class StatusRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def snapshot(self) -> None:
        """Read everything that follows from one snapshot, so the counts agree with the lists.
        Must be the transaction's first statement."""
        await self.db.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
