"""SQL for authorization: is a peer an active member of some sessions (BEHAVIOUR §21.3)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, select
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
        where = (M.c.peer_name == peer, M.c.session_name.in_(list(sessions)))
        return await self._live_memberships(workspace, M.c.session_name, *where)

    async def active_members(
        self, workspace: str, session: str, peers: Collection[str]
    ) -> set[str]:
        """Those of ``peers`` that are active members of ``session`` (itself active)."""
        if not peers:
            return set()
        where = (M.c.session_name == session, M.c.peer_name.in_(list(peers)))
        return await self._live_memberships(workspace, M.c.peer_name, *where)

    async def _live_memberships(
        self, workspace: str, column: Any, *where: ColumnElement[bool]
    ) -> set[str]:
        """``column`` of the memberships matching ``where`` that are current, in active
        sessions of ``workspace``."""
        stmt = (
            select(column)
            .join(S, (S.c.workspace_name == M.c.workspace_name) & (S.c.name == M.c.session_name))
            .where(
                M.c.workspace_name == workspace,
                M.c.left_at.is_(None),
                S.c.is_active.is_(True),
                *where,
            )
        )
        return set((await self.db.scalars(stmt)).all())
