"""Connections opened and warmed before the first request.

A new Postgres backend reads its catalog as it first meets each table, index, type and
trigger: its first ingest statement costs about 12 ms of Postgres CPU where the next costs
1.4, and opening the connection (TLS or not, SCRAM, a forked backend) about 8 ms more. With
the pools opening connections on demand, the first burst of traffic paid both on every
connection at once: at 16 clients the first second's ingests took 60-210 ms where every later
one took under 40 (the access log of a fresh server under ``bench/load.py``).

So at startup every connection of the read pool and of the search pool is opened, and each
runs the hot path once: the ingest's two statements (``repositories.ingest.rehearse``, which
writes nothing), then the hot reads, prepared and run with NULL parameters (they find
nothing). The pools keep their connections from then on (``db.read_pool``). It takes about
0.2 s on a 2-core machine; a failure (too few ``max_connections`` for the pools) is logged
with the setting to change and the server starts anyway, opening connections on demand.
"""

from __future__ import annotations

import logging
import time

import asyncpg

from ..settings import Settings
from .read_pool import ReadPool, search_pool_size
from .repositories import context, ingest, messages, peers, search_hybrid, sessions

log = logging.getLogger(__name__)

_READS = (*context.HOT_READS, *messages.HOT_READS, *peers.HOT_READS, *sessions.HOT_READS)
# every source of a search (named peers, the substring, rare words): every relation it reads
_SEARCH = search_hybrid.statement(
    search_hybrid.Shape(session=False, peer=False, named=True, substring=True, words=2)
)


async def _reads(connection: asyncpg.Connection) -> None:
    await ingest.rehearse(connection)
    for sql in _READS:
        statement = await connection.prepare(sql)
        await statement.fetch(*([None] * len(statement.get_parameters())))


async def _searches(connection: asyncpg.Connection) -> None:
    await connection.prepare(_SEARCH)  # parsed only: a search with no vector has no plan


async def warm_up(reads: ReadPool, settings: Settings) -> None:
    """Open and warm the read and search pools' connections (best effort: see above)."""
    started = time.perf_counter()
    try:
        await reads.warm(_reads, _searches)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning(
            "could not open and warm the read pools' %d connections at startup "
            "(DB_READ_POOL_SIZE=%d, and as many for searches): %s; they are opened on "
            "demand instead. Lower DB_READ_POOL_SIZE or raise the database's max_connections.",
            settings.db_read_pool_size + search_pool_size(settings),
            settings.db_read_pool_size,
            exc,
        )
        return
    log.debug("read pools warmed in %.0f ms", 1000 * (time.perf_counter() - started))
