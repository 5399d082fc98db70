"""Reads behind a working representation: recent and most-reinforced conclusions, and cards."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Conclusion, Scope, ScopeSession, table
from .conclusions import current
from .paging import AnyRow

C = table(Conclusion)
SC = table(Scope)
SS = table(ScopeSession)
COLUMNS = (
    C.c.id,
    C.c.content,
    C.c.level,
    C.c.session_name,
    C.c.premises,
    C.c.internal_metadata,
    C.c.times_derived,
    C.c.created_at,
)


class RepresentationRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    def _of(
        self, workspace: str, observer: str, observed: str, sessions: Sequence[str] | None
    ) -> Select[tuple[object, ...]]:
        stmt = select(*COLUMNS).where(
            C.c.workspace_name == workspace,
            C.c.observer == observer,
            C.c.observed == observed,
            current(),  # not deleted, not replaced by a newer fact
        )
        if sessions is not None:  # an allowlist: only explicit facts from those sessions
            stmt = stmt.where(C.c.session_name.in_(list(sessions)), C.c.level == "explicit")
        return stmt

    async def recent(
        self,
        workspace: str,
        observer: str,
        observed: str,
        limit: int,
        sessions: Sequence[str] | None = None,
    ) -> list[AnyRow]:
        if limit <= 0:
            return []
        stmt = self._of(workspace, observer, observed, sessions)
        stmt = stmt.order_by(C.c.created_at.desc(), C.c.id.desc()).limit(limit)
        return list((await self.db.execute(stmt)).all())

    async def most_frequent(
        self,
        workspace: str,
        observer: str,
        observed: str,
        limit: int,
        sessions: Sequence[str] | None = None,
    ) -> list[AnyRow]:
        if limit <= 0:
            return []
        stmt = self._of(workspace, observer, observed, sessions)
        order = (C.c.times_derived.desc(), C.c.created_at.desc(), C.c.id)
        return list((await self.db.execute(stmt.order_by(*order).limit(limit))).all())

    async def scope_exists(self, workspace: str, scope: str) -> bool:
        stmt = select(SC.c.id).where(SC.c.workspace_name == workspace, SC.c.name == scope)
        return (await self.db.execute(stmt)).first() is not None

    async def scope_sessions(self, workspace: str, scopes: Sequence[str]) -> list[str]:
        """The member sessions of the given scopes (their union, oldest membership first)."""
        stmt = (
            select(SS.c.session_name)
            .where(SS.c.workspace_name == workspace, SS.c.scope_name.in_(list(scopes)))
            .group_by(SS.c.session_name)
            .order_by(func.min(SS.c.joined_at), SS.c.session_name)
        )
        return list((await self.db.execute(stmt)).scalars())
