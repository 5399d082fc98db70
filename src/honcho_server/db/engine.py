"""Engine and session factory built from settings."""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import from_json
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from ..settings import Settings
from . import vector_codec

CONNECT_TIMEOUT_SECONDS = 5.0
# SQLAlchemy's own URL options that asyncpg.connect does not take
_ENGINE_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _loads(text: str | bytes) -> Any:
    """JSON(B) columns as Python values: pydantic-core's parser (a Rust one, about 5x the
    stdlib's speed on our metadata; same values, big integers included), so decoding a long
    context's rows is no longer a fifth of its cost."""
    try:
        return from_json(text)
    except ValueError:  # whatever it refuses, the stdlib decides as before
        return json.loads(text)


def _discard_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Pool checkout hook: a connection the server has closed is replaced, not handed out.

    asyncpg notices at once when the server closes a connection (a restarted or killed
    server, ``pg_terminate_backend``), so unlike ``pool_pre_ping`` this costs no round trip.
    """
    is_closed = getattr(record.driver_connection, "is_closed", None)  # asyncpg's Connection
    if is_closed is not None and is_closed():
        raise DisconnectionError("the database server closed this pooled connection")


def driver_arguments(url: str | URL) -> tuple[list[Any], dict[str, Any]]:
    """``asyncpg.connect``'s arguments for our SQLAlchemy URL, read as the engine reads it:
    host and port, a unix socket directory (``?host=/dir``), TLS options, credentials."""
    parsed = make_url(url)
    args, kwargs = parsed.get_dialect()().create_connect_args(parsed)
    for name in _ENGINE_ONLY:
        kwargs.pop(name, None)
    return list(args), dict(kwargs)


def create_engine(settings: Settings, url: str) -> AsyncEngine:
    """An asyncpg engine sized by settings, with a statement timeout on every connection."""
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=False,
        pool_recycle=1800,
        json_serializer=_dumps,
        json_deserializer=_loads,
        # a database host that silently drops packets is a 503 within seconds, not a minute
        pool_timeout=10,
        connect_args={
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "server_settings": {
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "application_name": "honcho-server",
            },
        },
    )
    event.listen(engine.sync_engine.pool, "checkout", _discard_closed)
    event.listen(engine.sync_engine, "connect", _binary_vectors)
    return engine


def _binary_vectors(dbapi_connection: Any, record: Any) -> None:
    """pgvector's ``vector`` in binary on every connection (:mod:`.vector_codec`): a message's
    chunk vectors are stored as packed ``vector[]`` elements, not floats asyncpg checks one by
    one. Nothing on a database without the extension yet (it is not migrated)."""
    dbapi_connection.run_async(lambda c: vector_codec.register(c, required=False))


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
