"""Nearest-neighbour reads over stored vectors: message chunks and conclusions (cosine).

Filters make an HNSW scan discard rows; plain HNSW stops after ``hnsw.ef_search`` candidates
and would then return too few. Each read first turns on pgvector's (≥ 0.8) iterative scan for
the rest of the transaction, so a filtered scan keeps going until it has enough rows. The
scan runs in a ``MATERIALIZED`` CTE (as pgvector advises for ``relaxed_order``) and the outer
query restores the exact order and applies any distance cut-off — a cut-off inside the scan
would stop the index from being used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, bindparam, cast, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Conclusion, Message, MessageEmbedding, Session, table
from ..models.base import Vector
from .paging import AnyRow

E = table(MessageEmbedding)
M = table(Message)
S = table(Session)
C = table(Conclusion)

CHUNKS_PER_MESSAGE = 2  # chunk rows read per wanted message (long messages have several)
_MIN_EF_SEARCH = 40  # pgvector's default
_MAX_EF_SEARCH = 1000  # pgvector's maximum


def collection(
    workspace: str, observer: str, observed: str, sessions: Sequence[str] | None = None
) -> list[ColumnElement[bool]]:
    """Conditions selecting one (observer, observed) collection. An allowlist keeps only
    explicit conclusions from those sessions (as every representation source does)."""
    conditions = [
        C.c.workspace_name == workspace,
        C.c.observer == observer,
        C.c.observed == observed,
    ]
    if sessions is not None:
        conditions += [C.c.session_name.in_(list(sessions)), C.c.level == "explicit"]
    return conditions


def ef_search(k: int) -> int:
    """HNSW's candidate list for a scan wanting ``k`` rows (within pgvector's bounds)."""
    return min(max(k, _MIN_EF_SEARCH), _MAX_EF_SEARCH)


def cosine_distance(column: ColumnElement[Any], vector: list[float]) -> ColumnElement[float]:
    # a ``vector`` parameter, in binary by the engine connections' codec (``db.vector_codec``):
    # as a vector literal it cost ~80 us of formatting a call, as ``real[]`` 65-75 us of
    # asyncpg checking each float for nesting; packed, about 5 us
    query = cast(bindparam("query_vector", vector, type_=Vector()), Vector())
    return column.op("<=>", return_type=Float)(query)


class VectorRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def nearest_messages(
        self,
        vector: list[float],
        where: ColumnElement[bool],
        workspace: str,
        n: int,
        *,
        index_only: bool = False,
    ) -> list[int]:
        """Ids of the (at most ``n``) messages with the nearest embedded chunks, nearest first.

        ``where`` is a condition over ``messages`` and their ``sessions`` row (joined here).
        Messages not embedded yet are absent.
        """
        k = n * CHUNKS_PER_MESSAGE
        await self._allow_filtered_scan(k, index_only=index_only)
        distance = cosine_distance(E.c.embedding, vector).label("distance")
        joined = E.join(M, M.c.id == E.c.message_id).join(
            S, and_(S.c.workspace_name == M.c.workspace_name, S.c.name == M.c.session_name)
        )
        nearest = (
            select(E.c.message_id, distance)
            .select_from(joined)
            .where(E.c.workspace_name == workspace, where)
            .order_by(distance)
            .limit(k)
            .cte("nearest")
            .prefix_with("MATERIALIZED")
        )
        stmt = select(nearest.c.message_id).order_by(nearest.c.distance, nearest.c.message_id)
        ids = (await self.db.scalars(stmt)).all()
        return list(dict.fromkeys(ids))[:n]  # a message's nearest chunk ranks it

    async def nearest_conclusions(
        self,
        vector: list[float],
        columns: Sequence[ColumnElement[Any]],
        where: Sequence[ColumnElement[bool]],
        k: int,
        max_distance: float | None = None,
        *,
        superseded: bool = False,
    ) -> list[AnyRow]:
        """``columns`` (which must include ``id``) plus ``distance`` of the ``k`` nearest live,
        embedded conclusions satisfying ``where``, nearest first; only those within
        ``max_distance`` if given. Conclusions replaced by a newer one are left out unless
        ``superseded`` (then ``where`` decides)."""
        if k <= 0:
            return []
        await self._allow_filtered_scan(k)
        distance = cosine_distance(C.c.embedding, vector).label("distance")
        nearest = (
            select(*columns, distance)
            .where(C.c.embedding.is_not(None), C.c.deleted_at.is_(None), *where)
            .where(true() if superseded else C.c.superseded_by.is_(None))
            .order_by(distance)
            .limit(k)
            .cte("nearest")
            .prefix_with("MATERIALIZED")
        )
        stmt = select(nearest).order_by(nearest.c.distance, nearest.c.id)
        if max_distance is not None:
            stmt = stmt.where(nearest.c.distance <= max_distance)
        return list((await self.db.execute(stmt)).all())

    async def _allow_filtered_scan(self, k: int, *, index_only: bool = False) -> None:
        """Iterative HNSW scans (and a candidate list of ``k``) for the rest of the transaction.

        Also plan every vector query for its actual values: after five runs of a prepared
        statement Postgres may switch to a generic plan that ignores the HNSW index and sorts
        every row of the pair (measured by bench/vector_search.py: ~3 s instead of ~2 ms at
        100,000 conclusions). ``index_only``: no sequential scans for the rest of the
        transaction either (message search, see :mod:`.search`), in the same round trip.
        """
        ef = ef_search(k)
        settings = [
            func.set_config("hnsw.iterative_scan", "relaxed_order", True),
            func.set_config("hnsw.ef_search", str(ef), True),
            func.set_config("plan_cache_mode", "force_custom_plan", True),
        ]
        if index_only:
            settings.append(func.set_config("enable_seqscan", "off", True))
        await self.db.execute(select(*settings))
