"""The read pool (``db.read_pool``): the hot routes' single reads, without a session.

What a user would notice if it went wrong: a get-or-create answering 500 after Postgres
closed a pooled connection, requests failing or hanging when more arrive than the pool has
connections, or a read seeing something other than what the session path sees.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from honcho_server.app import create_app
from honcho_server.db.read_pool import ReadPool
from honcho_server.settings import Settings


def _asyncpg_url(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _settings(database_url: str, read_pool_size: int) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        embed_messages=False,
        deriver_enabled=False,
        summary_enabled=False,
        embedded_worker=False,
        db_read_pool_size=read_pool_size,
    )


@pytest.fixture
async def small_pool(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose read pool has one connection."""
    app: FastAPI = create_app(_settings(database_url, 1))
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


_HELD = (
    "SELECT pg_backend_pid() AS pid, array(SELECT statement FROM pg_prepared_statements) AS s,"
    " pg_sleep(0.2)"
)


async def test_startup_opens_and_warms_every_read_connection_and_writes_nothing(
    database_url: str,
) -> None:
    """The first burst of traffic after a start meets connected backends that have run the
    ingest's statements: each of the pool's connections, held at once, already has them
    prepared; and the rehearsal left no workspace, message or job behind."""
    admin = await asyncpg.connect(_asyncpg_url(database_url))
    try:
        app: FastAPI = create_app(_settings(database_url, 4))
        async with app.router.lifespan_context(app):
            reads = app.state.read_pool
            held = await asyncio.gather(*(reads.fetch(_HELD) for _ in range(4)))
            assert len({row["pid"] for rows in held for row in rows}) == 4
            for rows in held:
                prepared = " ".join(rows[0]["s"])
                assert "INSERT INTO messages" in prepared  # the ingest's write
                assert "md5(CAST(s AS text))" in prepared  # the ingest's state read
        left = await admin.fetchval(
            "SELECT (SELECT count(*) FROM workspaces WHERE name LIKE 'warm-up %')"
            " + (SELECT count(*) FROM messages WHERE workspace_name LIKE 'warm-up %')"
            " + (SELECT count(*) FROM jobs WHERE workspace_name LIKE 'warm-up %')"
        )
        assert left == 0
    finally:
        await admin.close()


async def test_a_database_short_of_connections_starts_anyway_and_says_which_setting(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A role allowed fewer connections than the pools want: warming fails, the warning
    names DB_READ_POOL_SIZE, the connections it opened are closed again, and requests are
    served with connections opened on demand."""
    admin = await asyncpg.connect(_asyncpg_url(database_url))
    try:
        await admin.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'honcho_few')"
            " THEN CREATE ROLE honcho_few LOGIN PASSWORD 'few' CONNECTION LIMIT 3; END IF; END $$;"
            " GRANT ALL ON ALL TABLES IN SCHEMA public TO honcho_few;"
            " GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO honcho_few;"
        )
        url = make_url(database_url).set(username="honcho_few", password="few")
        settings = _settings(url.render_as_string(hide_password=False), 4)
        app: FastAPI = create_app(settings)
        with caplog.at_level(logging.WARNING, logger="honcho_server.db.warm_up"):
            async with app.router.lifespan_context(app):
                # the engine's, from startup; the pools' were closed (their backends leave
                # pg_stat_activity once they have seen the close: a moment after startup)
                for _ in range(50):
                    opened = await admin.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE usename = 'honcho_few'"
                    )
                    if opened <= 1:
                        break
                    await asyncio.sleep(0.1)
                assert opened <= 1
                transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                    made = await c.post(
                        "/v3/workspaces/few/sessions/s/messages",
                        json={"messages": [{"peer_id": "p", "content": "still served"}]},
                    )
                    assert made.status_code == 201, made.text
                    listed = await c.post("/v3/workspaces/few/sessions/s/messages/list")
                    assert [m["content"] for m in listed.json()["items"]] == ["still served"]
        assert "DB_READ_POOL_SIZE=4" in caplog.text
        assert "max_connections" in caplog.text
    finally:
        await admin.close()


async def test_a_failed_warm_up_closes_every_connection_of_both_pools(database_url: str) -> None:
    """One read connection's rehearsal fails while every search connection's succeeds: the
    search pool must not keep its connections either (a database short of connections gets
    all its slots back, whichever pool's connect or rehearsal lost the race)."""
    engine = create_async_engine(database_url)
    reads = await ReadPool.open(engine, _settings(database_url, 4))
    pids: list[int] = []
    rehearsed: list[int] = []

    async def failing(connection: asyncpg.Connection) -> None:
        pids.append(connection.get_server_pid())
        rehearsed.append(connection.get_server_pid())
        if len(rehearsed) == 1:  # the read pool's first
            raise asyncpg.TooManyConnectionsError("no slot for this one")

    async def fine(connection: asyncpg.Connection) -> None:
        pids.append(connection.get_server_pid())

    admin = await asyncpg.connect(_asyncpg_url(database_url))
    try:
        with pytest.raises(asyncpg.TooManyConnectionsError):
            await reads.warm(failing, fine)
        assert len(set(pids)) == 4 + 4  # the read pool and the search pool, as many each
        for _ in range(50):  # a terminated backend leaves pg_stat_activity a moment later
            left = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", pids
            )
            if left == 0:
                break
            await asyncio.sleep(0.1)
        assert left == 0
    finally:
        await admin.close()
        await reads.close()
        await engine.dispose()
