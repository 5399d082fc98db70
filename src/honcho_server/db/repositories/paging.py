"""One-query offset pagination: the page's rows and the total in a single round trip."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias, TypeVar

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

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
