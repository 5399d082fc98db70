"""Hard deletion of a session or a workspace (run by jobs, after the API hid them)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Conclusion, Session, Workspace, table

C = table(Conclusion)
S = table(Session)
W = table(Workspace)


class DeletionRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def deactivate_session(self, workspace: str, session: str) -> bool:
        """Hide an active session at once; False if it is missing or already inactive."""
        stmt = (
            update(S)
            .where(S.c.workspace_name == workspace, S.c.name == session, S.c.is_active)
            .values(is_active=False)
            .returning(S.c.id)
        )
        return (await self.db.execute(stmt)).first() is not None

    async def tombstone_workspace(self, workspace: str) -> bool:
        stmt = (
            update(W)
            .where(W.c.name == workspace, W.c.deleted_at.is_(None))
            .values(deleted_at=func.now())
            .returning(W.c.id)
        )
        return (await self.db.execute(stmt)).first() is not None

    async def has_active_sessions(self, workspace: str) -> bool:
        stmt = select(S.c.id).where(S.c.workspace_name == workspace, S.c.is_active).limit(1)
        return (await self.db.execute(stmt)).first() is not None

    async def purge_session(self, workspace: str, session: str) -> None:
        """Remove an inactive session and everything stamped with it.

        Messages, memberships, summaries and scope links go with the session row (FK cascade);
        its jobs are cancelled by the caller (``QueueRepository.cancel``).
        """
        await self.db.execute(
            delete(C).where(C.c.workspace_name == workspace, C.c.session_name == session)
        )
        await self.db.execute(
            delete(S).where(S.c.workspace_name == workspace, S.c.name == session, ~S.c.is_active)
        )

    async def purge_workspace(self, workspace: str) -> None:
        """Remove a tombstoned workspace; every table cascades from it (its jobs are
        cancelled by the caller)."""
        await self.db.execute(delete(W).where(W.c.name == workspace, W.c.deleted_at.is_not(None)))

    async def purge_deleted_conclusions(self, older_than: timedelta) -> int:
        """Hard-delete conclusions soft-deleted more than ``older_than`` ago."""
        stmt = delete(C).where(C.c.deleted_at < func.now() - older_than).returning(C.c.id)
        return len((await self.db.execute(stmt)).all())
