"""SQL for the ``conclusions`` table. Soft-deleted rows (``deleted_at``) are never read.

Superseded rows (``superseded_by``: a newer conclusion replaced them) are left out of lists
and queries unless the filters name ``superseded`` (``{"superseded": true}`` shows only them;
``false`` only current ones); :meth:`ConclusionRepository.get` reads them by id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, bindparam, cast, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..filters import CONCLUSION_FILTERS, build_filter
from ..models import Conclusion, Peer, Session, table
from ..models.base import Vector
from .paging import AnyRow, fetch_page
from .vectors import VectorRepository

T = table(Conclusion)
P = table(Peer)
S = table(Session)
COLUMNS = (
    T.c.id,
    T.c.workspace_name,
    T.c.observer,
    T.c.observed,
    T.c.session_name,
    T.c.level,
    T.c.content,
    T.c.source_ids,
    T.c.times_derived,
    T.c.created_at,
)

# Built once: executed with a list of parameter sets, which SQLAlchemy sends as one
# multi-row INSERT (for up to 1,000 rows) and returns in parameter order. ``vector`` is each
# row's embedding as a pgvector literal (text, cast in SQL), or None.
_INSERT = (
    insert(T)
    .values(embedding=cast(bindparam("vector", type_=Text()), Vector()))
    .returning(*COLUMNS, sort_by_parameter_order=True)
)


def _live(workspace: str) -> tuple[Any, ...]:
    return (T.c.workspace_name == workspace, T.c.deleted_at.is_(None))


def filter_condition(filters: Mapping[str, Any] | None) -> ColumnElement[bool] | None:
    """The filters as SQL (pure: invalid filters raise before any statement runs), with
    superseded conclusions left out unless the filters name ``superseded``."""
    where = build_filter(filters, CONCLUSION_FILTERS)
    if names_superseded(filters):
        return where
    current = T.c.superseded_by.is_(None)
    return current if where is None else and_(where, current)


def names_superseded(filters: object) -> bool:
    """Whether ``superseded`` is a key anywhere in ``filters`` (inside AND/OR/NOT too)."""
    if isinstance(filters, Mapping):
        return any(k == "superseded" or names_superseded(v) for k, v in filters.items())
    if isinstance(filters, list):
        return any(names_superseded(v) for v in filters)
    return False


class ConclusionRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def existing_peers(self, workspace: str, names: Iterable[str]) -> set[str]:
        """Which of ``names`` are peers (peers are only ever removed with their workspace)."""
        stmt = select(P.c.name).where(
            P.c.workspace_name == workspace, P.c.name.in_(sorted(set(names)))
        )
        return set((await self.db.execute(stmt)).scalars().all())

    async def active_sessions(self, workspace: str, names: Iterable[str]) -> set[str]:
        """Which of ``names`` are active sessions.

        SHARE-locked until commit, so a concurrent session delete cannot deactivate a session
        (and have its conclusions purged) before these rows are committed.
        """
        stmt = (
            select(S.c.name)
            .where(
                S.c.workspace_name == workspace,
                S.c.name.in_(sorted(set(names))),
                S.c.is_active,
            )
            .with_for_update(read=True)
        )
        return set((await self.db.execute(stmt)).scalars().all())

    async def insert_many(self, rows: list[dict[str, Any]]) -> list[AnyRow]:
        """Insert conclusions, each with ``vector`` (its embedding as a pgvector literal, or
        None: embedded later); returns them in parameter order."""
        full = [{"vector": None} | r for r in rows]
        return list((await self.db.execute(_INSERT, full)).all())

    async def get(self, workspace: str, conclusion_id: str) -> AnyRow | None:
        stmt = select(*COLUMNS).where(T.c.id == conclusion_id, *_live(workspace))
        return (await self.db.execute(stmt)).first()

    async def soft_delete(self, workspace: str, conclusion_id: str) -> bool:
        """Mark a live conclusion deleted; ``False`` if it is missing or already deleted."""
        stmt = (
            update(T)
            .where(T.c.id == conclusion_id, *_live(workspace))
            .values(deleted_at=func.now())
            .returning(T.c.id)
        )
        return (await self.db.execute(stmt)).first() is not None

    async def list_page(
        self,
        workspace: str,
        filters: Mapping[str, Any] | None,
        *,
        page: int,
        size: int,
        reverse: bool,
    ) -> tuple[list[AnyRow], int]:
        """Newest first (id breaks ties: a batch shares one ``created_at``); ``reverse`` flips."""
        stmt = select(*COLUMNS).where(*_live(workspace))
        where = filter_condition(filters)
        if where is not None:
            stmt = stmt.where(where)
        order = (T.c.created_at, T.c.id) if reverse else (T.c.created_at.desc(), T.c.id.desc())
        return await fetch_page(self.db, stmt, order, page=page, size=size)

    async def nearest(
        self,
        workspace: str,
        vector: list[float],
        where: ColumnElement[bool] | None,
        *,
        top_k: int,
        max_distance: float | None,
    ) -> list[AnyRow]:
        """The ``top_k`` live conclusions nearest ``vector`` (cosine) satisfying ``where``,
        nearest first, within ``max_distance`` if given. Rows not embedded yet are absent."""
        conditions = [T.c.workspace_name == workspace]
        if where is not None:
            conditions.append(where)
        return await VectorRepository(self.db).nearest_conclusions(
            vector, COLUMNS, conditions, top_k, max_distance, superseded=True
        )  # ``where`` (from filter_condition) decides about superseded rows

    async def supersede(
        self, workspace: str, observer: str, observed: str, pairs: Sequence[tuple[str, str]]
    ) -> None:
        """Mark each ``(outdated, current)`` pair's outdated conclusion of the collection as
        replaced by the current one (kept, left out of default reads). Live rows only."""
        if not pairs:
            return
        outdated = bindparam("outdated", [o for o, _ in pairs], ARRAY(Text))
        current = bindparam("current", [c for _, c in pairs], ARRAY(Text))
        replaced = (
            select(func.unnest(outdated).label("outdated"), func.unnest(current).label("current"))
        ).subquery("replaced")
        stmt = (
            update(T)
            .where(
                T.c.id == replaced.c.outdated,
                T.c.workspace_name == workspace,
                T.c.observer == observer,
                T.c.observed == observed,
                T.c.deleted_at.is_(None),
                T.c.superseded_by.is_(None),
            )
            .values(superseded_by=replaced.c.current, superseded_at=func.now())
        )
        await self.db.execute(stmt)
