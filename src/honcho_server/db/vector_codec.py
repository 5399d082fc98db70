"""pgvector's ``vector`` in its binary wire format, on every connection the server opens.

A message search sends its query's vector with every statement. As ``real[]`` (a list of
floats) asyncpg's array encoder checks each of the 384 elements for nesting (an ``isinstance``
against an abstract base class each): 65-75 us of the event loop per search, 3.5% of a
search's CPU under load (py-spy). As a ``vector`` with this codec it is one ``struct.pack``
(about 5 us), and Postgres reads it with pgvector's own receive function, no array cast.

Format (pgvector's ``vector_send``/``vector_recv``): the dimension count and a reserved zero
as big-endian 16-bit integers, then each element as a big-endian 32-bit float. A float32
written here is the one a text literal of the same value would give (both round to nearest).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence

import asyncpg

log = logging.getLogger("honcho_server.db")

_HEADER = struct.Struct(">HH")

# the schema the extension's type lives in (``CREATE EXTENSION vector`` puts it in the first
# schema of the search path, ``public`` unless the database says otherwise)
_SCHEMA = """
    SELECT n.nspname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE t.typname = 'vector' AND t.typtype = 'b' ORDER BY n.nspname = 'public' DESC LIMIT 1
"""


def pack(values: Sequence[float]) -> bytes:
    """``values`` in the wire format: what :func:`encode` sends."""
    n = len(values)
    return struct.pack(f">HH{n}f", n, 0, *values)


def encode(value: Sequence[float] | bytes | str) -> bytes:
    """A ``vector`` parameter: floats; or already :func:`pack`-ed bytes (elements of a
    ``vector[]``: asyncpg's array encoder would take a list of floats for a second
    dimension); or a text literal (``'[0.1,0.2]'``, as some statements bind one)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        inner = value.strip()
        if not (inner.startswith("[") and inner.endswith("]")):
            raise ValueError(f"not a vector literal: {value[:40]!r}")
        inner = inner[1:-1].strip()
        return pack([float(x) for x in inner.split(",")] if inner else [])
    return pack(value)


def decode(data: bytes) -> list[float]:
    n, _ = _HEADER.unpack_from(data)
    return list(struct.unpack_from(f">{n}f", data, _HEADER.size))


async def register(connection: asyncpg.Connection, *, required: bool = True) -> None:
    """Send and read ``vector`` values in binary on ``connection`` (lists of floats). Without
    the extension (a database not migrated yet): an error, or nothing if not ``required``."""
    schema = await connection.fetchval(_SCHEMA)
    if schema is None:
        if not required:
            log.warning(
                "the vector extension is not installed yet: this connection sends no vectors"
                " (run the migrations: honcho-server migrate)"
            )
            return
        raise RuntimeError("the vector extension is not installed in this database")
    await connection.set_type_codec(
        "vector", schema=schema, encoder=encode, decoder=decode, format="binary"
    )
