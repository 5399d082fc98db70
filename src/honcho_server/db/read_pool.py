"""The thin path to Postgres: an asyncpg pool for the hot routes' single statements.

A read through SQLAlchemy's async session costs about 0.45 ms of our CPU (session, greenlet
bridge, pool checkout and reset, result objects) where asyncpg alone costs 0.14 ms, the same
statement on the same server (measured in process, best of four runs of 2,000). For a
get-or-create that finds its row, a message get, a list page or a context, that difference is
a third of the whole request. Those reads run here: no transaction (each statement is its own
snapshot, as :data:`api.deps.ReadDb` already was), asyncpg's prepared-statement cache, rows as
asyncpg ``Record`` (index or key access). So does an ingest's write, one statement that is
atomic on its own (``repositories.ingest``). Everything else that writes, or reads what it is
about to write, stays on the engine's session in a unit of work.

The pool holds at most ``DB_READ_POOL_SIZE`` connections beside the engine's ``DB_POOL_SIZE +
DB_MAX_OVERFLOW``: all opened and warmed at startup (``db.warm_up``) and kept from then on, or
opened on demand if that failed. They have the same statement timeout, connect timeout and
JSON decoding. A connection the server closed is replaced by asyncpg on the next acquire; a
database that is down raises asyncpg's own errors, which the app answers with a 503
(:mod:`api.errors`) like the engine's. A connection whose statement failed for any reason but
the statement's own (I/O, a server going away, a cancelled request) is closed, so it is never
handed out mid-failure. Every statement is announced to the
engine's ``before_cursor_execute`` listeners, so statement counts and tracing see it.

Beside it, a search pool (as many connections, at least 2, opened the same way) runs
message searches' single statements (``repositories.search_hybrid``): its connections carry
the planner settings a search needs for the whole session (index scans only, custom plans,
iterative HNSW scans), so a search needs no transaction to set them; no other statement runs
there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from ..settings import Settings
from . import vector_codec
from .connectivity import outage_reason
from .engine import CONNECT_TIMEOUT_SECONDS, driver_arguments
from .engine import _dumps as json_dumps  # encoded and decoded as the engine does
from .engine import _loads as json_loads


class Statement(Protocol):
    """A statement compiled once for asyncpg (``repositories.raw.Compiled``)."""

    @property
    def sql(self) -> str: ...
    @property
    def names(self) -> tuple[str, ...]: ...


# Message search's planner settings (``repositories.search_hybrid``), with ``hnsw.ef_search``
# per search: set once per connection of the search pool, or for a transaction.
SEARCH_SETTINGS = (
    ("enable_seqscan", "off"),
    ("plan_cache_mode", "force_custom_plan"),
    ("hnsw.iterative_scan", "relaxed_order"),
)
SEARCH_EF_SEARCH = 60  # a default search's (limit 10: 30 messages, 2 chunk rows each)
_SEARCH_SETTINGS = "".join(f"SET {name} = {value}; " for name, value in SEARCH_SETTINGS)


def search_pool_size(settings: Settings) -> int:
    """Connections of the search pool: as many as the read pool's, at least 2. Searches are a
    few ms of Postgres CPU each and nearly alike, so they wait less sharing the cores than
    queueing for a connection: at 16 clients, 10 connections against 5 took p99 from 73-101
    to 66-75 ms at the same throughput (16: 62-69 ms)."""
    return max(2, settings.db_read_pool_size)


class SearchConnection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg is untyped
    """A search pool's connection: it knows its ``hnsw.ef_search``, so a search with another
    limit than the default sets it (one more round trip) and the next default one sets it
    back."""

    ef_search = SEARCH_EF_SEARCH

    async def use_ef_search(self, ef: int) -> None:
        if ef != self.ef_search:
            await self.execute(f"SET hnsw.ef_search = {int(ef)}")
            self.ef_search = ef


Rehearsal = Callable[[asyncpg.Connection], Awaitable[None]]


class ReadPool:
    def __init__(self, engine: AsyncEngine, pool: asyncpg.Pool, searches: asyncpg.Pool) -> None:
        self._engine = engine.sync_engine
        self._pool = pool
        self._searches = searches

    @classmethod
    async def open(cls, engine: AsyncEngine, settings: Settings) -> ReadPool:
        """Built from the engine's URL (so the same host, socket, TLS and credentials); no
        connection is made until :meth:`warm` or the first read."""
        args, kwargs = driver_arguments(engine.url)
        common: dict[str, Any] = {
            "min_size": 0,
            "max_size": settings.db_read_pool_size,
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "server_settings": {
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "application_name": "honcho-server",
            },
            "reset": _nothing_to_reset,
            # kept once opened, as the engine keeps DB_POOL_SIZE: warmed at startup
            # (db.warm_up), and a burst after a quiet spell meets warm backends too
            "max_inactive_connection_lifetime": 0,
        }
        pool = await asyncpg.create_pool(*args, **kwargs, **common, init=_codecs)
        common["max_size"] = search_pool_size(settings)
        searches = await asyncpg.create_pool(
            *args, **kwargs, **common, init=_search_settings, connection_class=SearchConnection
        )
        return cls(engine, pool, searches)

    async def warm(self, reads: Rehearsal, searches: Rehearsal) -> None:
        """Open every connection of both pools at once and run a rehearsal on each
        (``db.warm_up``); if any failed, every connection of both is closed (a database short
        of connections gets all its slots back) and the first error is raised."""
        await _warm(((self._pool, reads), (self._searches, searches)))

    async def fetch(self, sql: str, *args: Any) -> Sequence[asyncpg.Record]:
        """The rows of ``sql`` (``$n`` parameters), outside any transaction."""
        self._announce(sql, args)
        # no acquire timeout (it costs a task per call): a connection is handed back within
        # the statement timeout, and a new one connects within CONNECT_TIMEOUT_SECONDS
        async with self._pool.acquire() as connection:
            return await _fetch(connection, sql, args)

    async def search(self, sql: str, args: Sequence[Any], *, ef: int) -> Sequence[asyncpg.Record]:
        """The rows of a message search's statement, on a connection with search's planner
        settings (index scans only, custom plans, iterative HNSW scans of ``ef``
        candidates): the pool's own connections."""
        self._announce(sql, tuple(args))
        async with self._searches.acquire() as connection:
            try:
                await connection.use_ef_search(ef)
            except BaseException:
                connection.terminate()
                raise
            return await _fetch(connection, sql, tuple(args))

    async def first(self, stmt: Statement, **params: Any) -> asyncpg.Record | None:
        """The first row of a compiled statement, its parameters by name."""
        rows = await self.fetch(stmt.sql, *(params[name] for name in stmt.names))
        return rows[0] if rows else None

    async def close(self) -> None:
        await self._pool.close()
        await self._searches.close()

    def _announce(self, sql: str, args: tuple[Any, ...]) -> None:
        if self._engine._has_events:
            self._engine.dispatch.before_cursor_execute(None, None, sql, args, None, False)


async def _warm(pools: Sequence[tuple[asyncpg.Pool, Rehearsal]]) -> None:
    """Every connection of each pool opened and rehearsed, then handed back to be kept; if
    any failed, all of them, in every pool, are closed."""
    wanted = [(pool, rehearsal) for pool, rehearsal in pools for _ in range(pool.get_max_size())]
    held = await asyncio.gather(*(pool.acquire() for pool, _ in wanted), return_exceptions=True)
    opened = [
        (pool, rehearsal, connection)
        for (pool, rehearsal), connection in zip(wanted, held, strict=True)
        if not isinstance(connection, BaseException)
    ]
    done: list[Any] = []
    try:
        if len(opened) == len(held):
            done = await asyncio.gather(
                *(rehearsal(connection) for _, rehearsal, connection in opened),
                return_exceptions=True,
            )
        failure = next((r for r in (*held, *done) if isinstance(r, BaseException)), None)
        if failure is not None:
            for _, _, connection in opened:
                connection.terminate()
            raise failure
    finally:
        for pool, _, connection in opened:
            await pool.release(connection)


async def _fetch(connection: Any, sql: str, args: tuple[Any, ...]) -> Sequence[asyncpg.Record]:
    try:
        rows: Sequence[asyncpg.Record] = await connection.fetch(sql, *args)
    except asyncpg.PostgresError as exc:  # the statement's own error: still usable,
        if outage_reason(exc) is not None:  # unless the server is going away
            connection.terminate()
        raise
    except BaseException:  # I/O, cancelled mid-statement: never handed out again
        connection.terminate()
        raise
    return rows


async def _search_settings(connection: asyncpg.Connection) -> None:
    await _codecs(connection)
    await connection.execute(f"{_SEARCH_SETTINGS}SET hnsw.ef_search = {SEARCH_EF_SEARCH}")


async def _nothing_to_reset(connection: asyncpg.Connection) -> None:
    """asyncpg's default resets every connection handed back (advisory locks, cursors,
    LISTEN, settings: one more round trip per read). These connections only ever run single
    reads outside a transaction, so there is nothing to reset."""


async def _codecs(connection: asyncpg.Connection) -> None:
    """JSON(B) as Python values, decoded as the engine decodes them; pgvector's ``vector`` in
    binary, as on the engine's connections (``db.vector_codec``)."""
    for kind in ("json", "jsonb"):
        await connection.set_type_codec(
            kind, encoder=json_dumps, decoder=json_loads, schema="pg_catalog"
        )
    await vector_codec.register(connection, required=False)
