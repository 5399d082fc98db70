"""Reads behind a working representation: recent and most-reinforced conclusions, and cards."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Conclusion, PeerCard, table
from .paging import AnyRow

C = table(Conclusion)
K = table(PeerCard)
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
            C.c.deleted_at.is_(None),
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

    async def card(self, workspace: str, observer: str, observed: str) -> list[str] | None:
        stmt = select(K.c.entries).where(
            K.c.workspace_name == workspace, K.c.observer == observer, K.c.observed == observed
        )
        entries: list[str] | None = (await self.db.execute(stmt)).scalar_one_or_none()
        return entries
