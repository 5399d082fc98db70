"""Vectors travel only between equal embedders: into a database whose embedder has another
size (or model) the file's vectors are left out and embedding jobs queued, through the queue,
for every message and conclusion; with the same embedder they are stored as they were."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import asyncpg
import httpx

from databases import fresh_database
from honcho_server.embeddings.local import MODEL_NAME
from transfer_support import (
    asyncpg_url,
    honcho_cli,
    resealed,
    rows_of,
    synthetic_export,
    write,
)

MESSAGES = 250


async def _jobs(url: str, ws: str) -> list[tuple[str, list[int]]]:
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        rows = await conn.fetch(
            "SELECT kind, payload FROM jobs WHERE workspace_name = $1 AND status = 'todo'"
            " ORDER BY id",
            ws,
        )
        return [(r["kind"], r["payload"]) for r in rows]
    finally:
        await conn.close()


async def _count(url: str, sql: str, ws: str) -> int:
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        value: int = await conn.fetchval(sql, ws)
        return value
    finally:
        await conn.close()


async def _message_ids(url: str, ws: str) -> list[int]:
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        rows = await conn.fetch("SELECT id FROM messages WHERE workspace_name = $1 ORDER BY id", ws)
        return [int(r["id"]) for r in rows]
    finally:
        await conn.close()


async def test_another_dimension_drops_vectors_and_queues_embedding(
    database_url: str, tmp_path: Path
) -> None:
    ws = f"dims-{uuid.uuid4().hex[:8]}"
    file = write(
        tmp_path / "f.jsonl",
        synthetic_export(ws, MESSAGES, embedder=(MODEL_NAME, 384), vectors=True),
    )
    async with fresh_database(database_url, embedding_dimensions=256) as url:
        mismatch = honcho_cli(["import", str(file)], {"DATABASE_URL": url})  # a 384-d embedder
        assert mismatch.returncode == 1
        assert (
            mismatch.stderr.strip()
            .splitlines()[-1]
            .startswith(
                "honcho-server import: the database stores 256-dimensional embeddings but "
                "EMBEDDING_DIMENSIONS is 384"
            )
        )
        out = honcho_cli(
            ["import", str(file)],
            {
                "DATABASE_URL": url,
                "EMBEDDING_PROVIDER": "openai",
                "EMBEDDING_MODEL": "small-256",
                "EMBEDDING_DIMENSIONS": "256",
                "EMBEDDING_BASE_URL": "http://127.0.0.1:9/v1",  # never called by import
                "EMBED_MESSAGES": "true",
            },
        )
        assert out.returncode == 0, out.stderr
        assert "(3 embedding job(s) queued for a worker)" in out.stderr
        assert (await rows_of(url, ws))["messages"] == MESSAGES
        assert (
            await _count(
                url, "SELECT count(*) FROM message_embeddings WHERE workspace_name = $1", ws
            )
            == 0
        )
        jobs = await _jobs(url, ws)
        assert {kind for kind, _ in jobs} == {"embed_messages"}
        queued = sorted(i for _, payload in jobs for i in _ids(payload))
        assert queued == await _message_ids(url, ws)


def _ids(payload: object) -> list[int]:
    data = json.loads(payload) if isinstance(payload, str) else payload
    assert isinstance(data, dict)
    return [int(i) for i in data["message_ids"]]


async def test_the_same_embedder_keeps_vectors_and_queues_nothing(
    client: httpx.AsyncClient, database_url: str
) -> None:
    ws = f"same-{uuid.uuid4().hex[:8]}"
    lines = synthetic_export(ws, MESSAGES, embedder=(MODEL_NAME, 384), vectors=True)
    response = await client.post("/v3/workspaces/import", content=b"".join(lines))
    assert response.status_code == 201, response.text
    assert response.json()["embeddings"] == "kept"
    assert response.json()["embedding_jobs"] == 0
    stored = await _count(
        database_url,
        "SELECT count(*) FROM message_embeddings WHERE workspace_name = $1"
        " AND embedding::text = '[' || array_to_string(array_fill(0.5, ARRAY[384]), ',') || ']'",
        ws,
    )
    assert stored == MESSAGES
    assert await _jobs(database_url, ws) == []


async def test_a_vector_of_the_wrong_size_is_refused(client: httpx.AsyncClient) -> None:
    ws = f"size-{uuid.uuid4().hex[:8]}"
    lines = synthetic_export(ws, 3, embedder=(MODEL_NAME, 384), vectors=True)
    short = [*lines]
    short[6] = short[6].replace(b"[0.5,", b"[", 1)
    response = await client.post("/v3/workspaces/import", content=b"".join(resealed(short)))
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "line 7: an embedding of 383 dimensions, but the header says 384"
    )


async def test_a_vector_that_is_not_numbers_is_refused(client: httpx.AsyncClient) -> None:
    ws = f"nan-{uuid.uuid4().hex[:8]}"
    lines = synthetic_export(ws, 3, embedder=(MODEL_NAME, 384), vectors=True)
    nan = [*lines]
    nan[5] = nan[5].replace(b"[0.5,", b"[NaN,", 1)
    response = await client.post("/v3/workspaces/import", content=b"".join(resealed(nan)))
    assert response.status_code == 422
    assert response.json()["detail"] == "line 6: an embedding holds a value that is not a number"
