"""Reads behind a working representation: recent and most-reinforced conclusions, and cards."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Conclusion, Scope, ScopeSession, table
from .conclusion_rows import ConclusionDetail, details
from .conclusions import DETAIL_COLUMNS, current
from .vectors import VectorRepository, collection

C = table(Conclusion)
SC = table(Scope)
SS = table(ScopeSession)


class RepresentationRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    def _of(
        self, workspace: str, observer: str, observed: str, sessions: Sequence[str] | None
    ) -> Select[tuple[object, ...]]:
        stmt = select(*DETAIL_COLUMNS).where(
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
    ) -> list[ConclusionDetail]:
        if limit <= 0:
            return []
        stmt = self._of(workspace, observer, observed, sessions)
        stmt = stmt.order_by(C.c.created_at.desc(), C.c.id.desc()).limit(limit)
        return details((await self.db.execute(stmt)).all())

    async def most_frequent(
        self,
        workspace: str,
        observer: str,
        observed: str,
        limit: int,
        sessions: Sequence[str] | None = None,
    ) -> list[ConclusionDetail]:
        if limit <= 0:
            return []
        stmt = self._of(workspace, observer, observed, sessions)
        order = (C.c.times_derived.desc(), C.c.created_at.desc(), C.c.id)
        return details((await self.db.execute(stmt.order_by(*order).limit(limit))).all())

    async def nearest(
        self,
        workspace: str,
        observer: str,
        observed: str,
        vector: list[float],
        limit: int,
        *,
        sessions: Sequence[str] | None = None,
        max_distance: float | None = None,
    ) -> list[ConclusionDetail]:
        """The ``limit`` embedded conclusions nearest ``vector``, nearest first (only those
        within ``max_distance`` if given)."""
        if limit <= 0:
            return []
        where = collection(workspace, observer, observed, sessions)
        rows = await VectorRepository(self.db).nearest_conclusions(
            vector, DETAIL_COLUMNS, where, limit, max_distance
        )
        return details(rows)  # without the distance

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
