"""The thin path to Postgres for reads that return many rows: asyncpg itself, on the
session's own connection, so no SQLAlchemy statement execution or row object per row.

The statement is still announced to the engine's ``before_cursor_execute`` listeners (the
statement counts of ``tests/api/test_statement_counts.py``, tracing), like any other.
JSON(B) values come back decoded (the engine's codec is asyncpg's). A read on a session in a
transaction runs in it (same connection); otherwise it runs on its own. A read on a session made
for reads only (``api.deps.ReadDb``, which carries the read pool in its ``info``) that has not
begun anything runs on the read pool (``db.read_pool``): the same autocommit read without the
session's connection checkout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ClauseElement
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession

from ..read_pool import ReadPool

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy's own, untyped


READ_POOL = "read_pool"
"""The ``AsyncSession.info`` key of a read-only session's :class:`~..read_pool.ReadPool`."""


async def fetch(db: AsyncSession, sql: str, *args: Any) -> Sequence[Any]:
    """The rows (asyncpg ``Record``: index or key access) of ``sql`` with ``$n`` parameters."""
    reads: ReadPool | None = db.info.get(READ_POOL)
    if reads is not None and not db.in_transaction():
        return await reads.fetch(sql, *args)
    connection = await db.connection()
    sync = connection.sync_connection
    if sync is not None and (sync._has_events or sync.engine._has_events):
        sync.dispatch.before_cursor_execute(sync, None, sql, args, None, False)
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    rows: Sequence[Any] = await driver.fetch(sql, *args)
    return rows


@dataclass(frozen=True)
class Compiled:
    """A SQLAlchemy Core statement compiled once for :func:`fetch`: written with the tables'
    columns like any other, run without SQLAlchemy. Its parameters must need no conversion
    on the way in (text, numbers, times)."""

    sql: str
    names: tuple[str, ...]

    @classmethod
    def of(cls, stmt: ClauseElement) -> Compiled:
        compiled: Any = stmt.compile(dialect=_DIALECT)  # a positional SQLCompiler
        return cls(compiled.string, tuple(compiled.positiontup or ()))

    async def fetch(self, db: AsyncSession, params: Mapping[str, Any]) -> Sequence[Any]:
        return await fetch(db, self.sql, *(params[name] for name in self.names))
