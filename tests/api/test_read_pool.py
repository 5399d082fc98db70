"""The read pool (``db.read_pool``): the hot routes' single reads, without a session.

What a user would notice if it went wrong: a get-or-create answering 500 after Postgres
closed a pooled connection, requests failing or hanging when more arrive than the pool has
connections, or a read seeing something other than what the session path sees.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from honcho_server.app import create_app
from honcho_server.settings import Settings


def _asyncpg_url(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


@pytest.fixture
async def small_pool(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose read pool has one connection."""
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        embed_messages=False,
        deriver_enabled=False,
        summary_enabled=False,
        embedded_worker=False,
        db_read_pool_size=1,
    )
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_more_requests_than_connections_all_answer(
    small_pool: httpx.AsyncClient, ws: str
) -> None:
    base = f"/v3/workspaces/{ws}"
    assert (await small_pool.post(f"{base}/peers", json={"id": "alice"})).status_code == 201
    assert (await small_pool.post(f"{base}/sessions", json={"id": "s"})).status_code == 201
    answers = await asyncio.gather(
        *(
            small_pool.post(f"{base}/peers" if i % 2 else f"{base}/sessions", json={"id": "x"})
            for i in range(2)
        ),
        *(small_pool.post(f"{base}/peers", json={"id": "alice"}) for _ in range(24)),
        *(small_pool.post(f"{base}/sessions", json={"id": "s"}) for _ in range(24)),
    )
    assert [a.status_code for a in answers] == [201, 201] + [200] * 48
    found = [a.json() for a in answers[2:]]
    assert {(f["id"], f["workspace_id"]) for f in found} == {("alice", ws), ("s", ws)}


async def test_a_connection_postgres_closed_is_replaced_not_a_500(
    small_pool: httpx.AsyncClient, ws: str, database_url: str
) -> None:
    base = f"/v3/workspaces/{ws}"
    created = await small_pool.post(f"{base}/peers", json={"id": "bob", "metadata": {"k": 1}})
    assert created.status_code == 201
    first = await small_pool.post(f"{base}/peers", json={"id": "bob"})
    assert first.status_code == 200
    admin = await asyncpg.connect(_asyncpg_url(database_url))
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'honcho-server' AND query LIKE '%FROM peers%' "
            "AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    assert killed >= 1
    await asyncio.sleep(0.3)  # the close reaches the client
    again = await small_pool.post(f"{base}/peers", json={"id": "bob"})
    assert again.status_code == 200, again.text
    assert again.json() == first.json()


async def test_the_read_pool_answers_as_the_transaction_path_does(
    client: httpx.AsyncClient, ws: str
) -> None:
    """A get-or-create that finds its row (read pool) and one that changes it (a unit of
    work) render the same peer and session, field for field, unicode and nesting included."""
    base = f"/v3/workspaces/{ws}"
    metadata = {"name": 'Zoë \u2028 "quoted"', "nested": {"list": [1, 2.5, None, True]}}
    for path, ident in ((f"{base}/peers", "p1"), (f"{base}/sessions", "s1")):
        written = await client.post(path, json={"id": ident, "metadata": metadata})
        assert written.status_code == 201
        read = await client.post(path, json={"id": ident})
        assert read.status_code == 200
        assert read.content == (await client.post(path, json={"id": ident})).content
        assert read.json() == written.json()
        assert read.json()["metadata"] == metadata
        assert read.headers["content-type"] == "application/json"


async def test_a_value_postgres_refuses_on_the_read_pool_is_a_422(
    client: httpx.AsyncClient, ws: str
) -> None:
    """asyncpg's own errors (no SQLAlchemy wrapping on this path) read like the session's: a
    NUL byte in a path value is the client's mistake, not a 500."""
    base = f"/v3/workspaces/{ws}/sessions"
    for method, path in (
        ("GET", f"{base}/s/messages/a%00b"),
        ("POST", f"{base}/s%00x/messages/list"),
        ("GET", f"{base}/s%00x/context"),
    ):
        r = await client.request(method, path, json={} if method == "POST" else None)
        assert r.status_code == 422, (path, r.status_code, r.text)
        assert isinstance(r.json()["detail"], str)
