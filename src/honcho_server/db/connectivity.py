"""Is the database reachable? Telling an outage apart from a bug, and a readiness ping.

An *outage* error is one that says nothing about the request: the server refused or dropped
the connection, is starting up or shutting down, has no connection slot left, or our pool had
none to give. Callers answer those with "retry later" (HTTP 503) instead of a 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine

# SQLSTATEs of a database that cannot serve us right now: class 08 (connection exception),
# 57P01-57P03 (admin/crash shutdown, cannot connect now: starting, stopping, recovering),
# 53300 (too many connections).
_OUTAGE_STATES = ("08", "57P01", "57P02", "57P03", "53300")
_DRIVER_MODULES = ("asyncpg", "sqlalchemy")
_CLOSED_MARKERS = ("connection is closed", "connection was closed", "underlying connection")
_DRIVER_ERRORS = (
    DBAPIError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)
# asyncpg's error for a connection still consuming a failure (the server's FATAL before it
# closed the socket) when the next statement is sent on it: the connection is dead.
_MID_FAILURE_MARKER = "another operation"


def outage_reason(exc: BaseException) -> str | None:
    """A short reason when ``exc`` is a connection-class database failure, else ``None``."""
    if isinstance(exc, PoolTimeout):
        return "no free database connection in the pool"
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return _describe(_innermost(exc))
    if not isinstance(exc, _DRIVER_ERRORS) and not _raised_in_driver(exc):
        return None  # e.g. an OSError from an HTTP client: not ours to call an outage
    for link in _chain(exc):
        state = str(getattr(link, "sqlstate", None) or getattr(link, "pgcode", None) or "")
        if state.startswith(_OUTAGE_STATES):
            return _describe(_innermost(link))
        if isinstance(link, asyncpg.InterfaceError) and any(
            marker in str(link) for marker in _CLOSED_MARKERS
        ):
            return _describe(link)
        if isinstance(link, asyncpg.InternalClientError) and _MID_FAILURE_MARKER in str(link):
            return _describe(link)
        if isinstance(link, OSError):  # refused, reset, unreachable, timed out (TimeoutError)
            return _describe(link)
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the driver error it wraps, and their causes (bounded, cycle-safe)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 16:
        link = todo.pop()
        if link is None or id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        orig = link.orig if isinstance(link, DBAPIError) else None
        todo += [
            link.__context__,
            link.__cause__,
            orig if isinstance(orig, BaseException) else None,
        ]


def driver_error(exc: BaseException) -> BaseException:
    """The driver's error inside SQLAlchemy's wrapping (whose text adds the whole statement),
    or ``exc`` itself (asyncpg's own, from the read pool, or anything else)."""
    return exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc


def _innermost(exc: BaseException) -> BaseException:
    """The driver's own exception under SQLAlchemy's wrappers (it has the telling name)."""
    for _ in range(8):
        inner = exc.orig if isinstance(exc, DBAPIError) else exc.__cause__
        if not isinstance(inner, BaseException):
            break
        exc = inner
    return exc


def _raised_in_driver(exc: BaseException) -> bool:
    """True when the traceback passes through the driver or SQLAlchemy (a bare ``OSError``
    from connecting); an ``OSError`` from anywhere else is not a database outage."""
    tb = exc.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.split(".", 1)[0] in _DRIVER_MODULES:
            return True
        tb = tb.tb_next
    return False


def _describe(exc: BaseException) -> str:
    name = type(exc).__name__
    message = " ".join(str(exc).split())[:200]
    return f"{name}: {message}" if message else name


async def ping(engine: AsyncEngine, within: float) -> str | None:
    """``SELECT 1`` within ``within`` seconds: ``None`` when it answered, else why not.

    A pooled connection left over from before a database restart fails once (and makes the
    pool discard its stale connections), so that one failure is retried on a fresh connection.
    """
    try:
        async with asyncio.timeout(within):
            for attempt in (1, 2):
                try:
                    async with engine.connect() as conn:
                        await conn.execute(text("SELECT 1"))
                    return None
                except DBAPIError as exc:
                    if attempt == 2 or not exc.connection_invalidated:
                        raise
    except TimeoutError:
        return f"database did not answer within {within:g}s"
    except Exception as exc:  # any failure means not ready; the reason says which
        return outage_reason(exc) or _describe(exc)
    return None  # pragma: no cover - the loop always returns or raises
