"""The one place that commits: a unit of work around a request or a worker step.

:func:`run_unit_of_work` is also the one place that restarts a transaction: when Postgres
aborts it as a deadlock victim or for a serialization failure, the whole unit runs again from
the start, so no code below it ever rolls back or retries a statement by itself.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .errors import DEADLOCK, sqlstate

T = TypeVar("T")

log = logging.getLogger(__name__)

SERIALIZATION_FAILURE = "40001"
RESTARTABLE = frozenset({DEADLOCK, SERIALIZATION_FAILURE})
"""SQLSTATEs after which the same transaction, run again, can succeed."""

ATTEMPTS = 4
_PAUSE = (0.002, 0.02)  # seconds, times the attempt number: a short random backoff


class Restart(Exception):
    """Raised inside :func:`run_unit_of_work` to roll back and run the unit again (a race the
    code itself detected, e.g. a row another transaction committed after this one looked)."""


@asynccontextmanager
async def autocommit_reads(session: AsyncSession) -> AsyncIterator[None]:
    """Run the block's statements outside a transaction: a request that ends up only reading
    (a get-or-create that finds its row, a list, a context) sends no BEGIN and no COMMIT.

    Must open the unit of work (before its first statement); otherwise the block simply runs
    in the unit's transaction. Each statement in the block sees its own snapshot, so use it
    for reads whose answer is whole in one statement. What follows the block runs in the
    unit's transaction as usual (the next statement begins it).
    """
    if session.in_transaction():
        yield
        return
    await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    yield
    # Nothing to commit: this hands the autocommit connection back to the pool (where its
    # isolation level is reset) without a round trip. On an error the unit rolls back.
    await session.commit()


@asynccontextmanager
async def unit_of_work(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """Yield a session; commit if the block succeeds, roll back if it raises."""
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


async def run_unit_of_work(
    factory: async_sessionmaker[AsyncSession],
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    attempts: int = ATTEMPTS,
) -> T:
    """Run ``work`` in one transaction and commit it.

    A deadlock victim, a serialization failure (also at commit) or a :class:`Restart` rolls
    the transaction back and runs ``work`` again on a fresh session after a short random
    pause, at most ``attempts`` times in all; the last failure is raised. ``work`` must
    therefore do nothing outside the transaction that it cannot repeat.
    """
    for attempt in range(1, attempts + 1):
        try:
            async with unit_of_work(factory) as session:
                return await work(session)
        except DBAPIError as exc:
            if sqlstate(exc) not in RESTARTABLE or attempt == attempts:
                raise
            log.info("transaction restarted (attempt %d): %s", attempt, sqlstate(exc))
        except Restart:
            if attempt == attempts:
                raise
        await asyncio.sleep(random.uniform(*_PAUSE) * attempt)
    raise AssertionError("unreachable")
