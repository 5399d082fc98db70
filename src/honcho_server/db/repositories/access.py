"""SQL for authorization: is a peer an active member of some sessions (BEHAVIOUR §21.3)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Session, SessionPeer, table

M = table(SessionPeer)
S = table(Session)


class AccessRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def member_sessions(
        self, workspace: str, peer: str, sessions: Collection[str]
    ) -> set[str]:
        """Those of ``sessions`` that are active and have ``peer`` as an active member."""
        if not sessions:
            return set()
        stmt = (
            select(M.c.session_name)
            .join(S, (S.c.workspace_name == M.c.workspace_name) & (S.c.name == M.c.session_name))
            .where(
                M.c.workspace_name == workspace,
                M.c.peer_name == peer,
                M.c.session_name.in_(list(sessions)),
                M.c.left_at.is_(None),
                S.c.is_active.is_(True),
            )
        )
        return set((await self.db.scalars(stmt)).all())

    async def active_members(
        self, workspace: str, session: str, peers: Collection[str]
    ) -> set[str]:
        """Those of ``peers`` that are active members of ``session`` (itself active)."""
        if not peers:
            return set()
        stmt = (
            select(M.c.peer_name)
            .join(S, (S.c.workspace_name == M.c.workspace_name) & (S.c.name == M.c.session_name))
            .where(
                M.c.workspace_name == workspace,
                M.c.session_name == session,
                M.c.peer_name.in_(list(peers)),
                M.c.left_at.is_(None),
                S.c.is_active.is_(True),
            )
        )
        return set((await self.db.scalars(stmt)).all())
