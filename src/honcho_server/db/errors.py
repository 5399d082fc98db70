"""Reading Postgres errors, wrapped by SQLAlchemy or raised by asyncpg itself (the read
pool, ``db.read_pool``)."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

DEADLOCK = "40P01"
#: raised by migration 0013's triggers: a write names a peer being erased
PEER_ERASING = "HE409"


def sqlstate(exc: BaseException) -> str:
    """The five-character SQLSTATE of a database error ("" when the driver gives none)."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    return str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
