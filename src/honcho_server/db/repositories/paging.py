"""One-query offset pagination: the page's rows and the total in a single round trip."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

from sqlalchemy import Row, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import raw

_TOTAL = "_page_total"

AnyRow: TypeAlias = Row[*tuple[Any, ...]]
R = TypeVar("R")


async def fetch_page(
    db: AsyncSession,
    stmt: Select[Any],
    order_by: Sequence[Any],
    *,
    page: int,
    size: int,
) -> tuple[list[AnyRow], int]:
    """Rows of ``page`` (1-based) and the total count of ``stmt``'s rows, in one round trip.

    The total rides along as an uncorrelated scalar subquery, which Postgres evaluates once
    (an index-only count), while the page itself stops after ``size`` rows. (A window
    ``count(*) OVER ()`` would read every matching row in full before the LIMIT.) Only a page
    past the end needs a second query.
    """
    total = select(func.count()).select_from(stmt.order_by(None).subquery()).scalar_subquery()
    paged = (
        stmt.add_columns(total.label(_TOTAL))
        .order_by(*order_by)
        .limit(size)
        .offset((page - 1) * size)
    )
    rows: list[AnyRow] = list((await db.execute(paged)).all())
    if rows:
        return rows, int(rows[0]._mapping[_TOTAL])
    if page == 1:
        return [], 0
    total = await db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return [], int(total or 0)


def row_into(into: Callable[..., R], row: Sequence[Any] | None) -> R | None:
    """A read model from one row (``into`` takes its columns, in order), or ``None``."""
    return None if row is None else into(*row)


async def fetch_page_into(
    into: Callable[..., R],
    db: AsyncSession,
    stmt: Select[Any],
    order_by: Sequence[Any],
    *,
    page: int,
    size: int,
) -> tuple[list[R], int]:
    """:func:`fetch_page` with each row built into a read model: ``into`` takes the
    statement's columns, in order."""
    rows, total = await fetch_page(db, stmt, order_by, page=page, size=size)
    return [into(*r[:-1]) for r in rows], total


@dataclass(frozen=True)
class PreparedPage:
    """:func:`fetch_page` for a query without per-call structure (no filters), compiled once
    at import and run through asyncpg itself (:mod:`.raw`): per call only parameters change.
    Rows are asyncpg records (index or key access)."""

    paged: raw.Compiled
    count: raw.Compiled

    @classmethod
    def of(
        cls, stmt: Select[Any], order_by: Sequence[Any], total: Select[Any] | None = None
    ) -> PreparedPage:
        """``total``: a query of one value, the number of ``stmt``'s rows, when it is kept
        somewhere cheaper than counting them (by default they are counted)."""
        if total is None:
            total = select(func.count()).select_from(stmt.order_by(None).subquery())
        paged = (
            stmt.add_columns(total.scalar_subquery().label(_TOTAL))
            .order_by(*order_by)
            .limit(bindparam("_limit"))
            .offset(bindparam("_offset"))
        )
        return cls(raw.Compiled.of(paged), raw.Compiled.of(select(total.scalar_subquery())))

    async def fetch(
        self, db: AsyncSession, params: dict[str, Any], *, page: int, size: int
    ) -> tuple[Sequence[Any], int]:
        """Same answer as :func:`fetch_page`."""
        bound = {**params, "_limit": size, "_offset": (page - 1) * size}
        rows = await self.paged.fetch(db, bound)
        if rows:
            return rows, int(rows[0][_TOTAL])
        if page == 1:
            return [], 0
        return [], int((await self.count.fetch(db, params))[0][0] or 0)
