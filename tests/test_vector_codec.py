"""The search pool sends the query's vector in pgvector's binary format (``db.vector_codec``):
Postgres must read the same float32 values a text literal gives, at any dimension."""

from __future__ import annotations

import random
import struct
from collections.abc import AsyncIterator

import asyncpg
import pytest

from databases import fresh_database
from honcho_server.db import vector_codec
from honcho_server.db.engine import driver_arguments


@pytest.fixture(scope="module")
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    async with fresh_database(database_url) as url:  # migrated: the extension is there
        args, kwargs = driver_arguments(url)
        connection = await asyncpg.connect(*args, **kwargs)
        try:
            await vector_codec.register(connection)
            yield connection
        finally:
            await connection.close()


def _literal(values: list[float]) -> str:
    return "[" + ",".join(map(repr, values)) + "]"  # each value round-trips


def _float32(value: float) -> float:
    return float(struct.unpack(">f", struct.pack(">f", value))[0])


async def test_a_binary_vector_is_the_text_literals_vector(conn: asyncpg.Connection) -> None:
    rng = random.Random(7)
    odd = [0.0, -0.0, 1.0, -1.0, 1e-45, 3.4e38, -3.4e38, 0.1, 1 / 3, 123456.789]
    for dimensions in (1, 3, 384, 2000):
        values = odd[:dimensions] + [rng.uniform(-2, 2) for _ in range(dimensions - len(odd))]
        same, text, back = await conn.fetchrow(
            "SELECT $1::vector = CAST($2 AS text)::vector, $1::vector::text, $1::vector",
            values,
            _literal(values),
        )
        assert same, dimensions
        printed = [_float32(float(v)) for v in text.strip("[]").split(",")]
        assert printed == [_float32(v) for v in values]
        assert back == [_float32(v) for v in values]  # read back in binary too
    # the cosine distance of a vector to itself, as search computes similarity
    distance = await conn.fetchval("SELECT $1::vector <=> $1::vector", [0.3, -0.4, 0.5])
    assert abs(distance) < 1e-6


async def test_literals_and_packed_vectors_are_sent_too(conn: asyncpg.Connection) -> None:
    """Statements that bind a text literal (the explorer: ``str(list)``) or a ``vector[]`` of
    packed elements (a message's chunks) on a connection with the codec."""
    values = [0.25, -1.5, 3.0]
    for literal in (str(values), _literal(values), " [0.25,-1.5 , 3] "):
        assert await conn.fetchval("SELECT CAST($1 AS vector)", literal) == values
    stored = await conn.fetch(
        "SELECT v FROM unnest(CAST($1 AS vector[])) AS v",
        [vector_codec.pack(values), vector_codec.pack([1.0])],
    )
    assert [r[0] for r in stored] == [values, [1.0]]
    with pytest.raises(asyncpg.DataError):
        await conn.fetchval("SELECT CAST($1 AS vector)", "0.25,-1.5")


async def test_a_vector_postgres_refuses_is_an_error_not_a_wrong_search(
    conn: asyncpg.Connection,
) -> None:
    with pytest.raises(asyncpg.DataError):  # pgvector: NaN is not allowed in a vector
        await conn.fetchval("SELECT $1::vector", [0.1, float("nan")])
    with pytest.raises(asyncpg.DataError):  # and it has at least one dimension
        await conn.fetchval("SELECT $1::vector", [])
