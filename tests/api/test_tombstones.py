"""Tombstones hold on every write path: nothing is written into a workspace or session whose
DELETE was acknowledged (202) until its purge has run, so no acknowledged write is purged.

Writes into a workspace being deleted answer 409 where they would create something (the name
is taken until the purge) and 404 where the workspace must exist; writes into a deleted
session answer 404, as upstream does. The races are settled by row locks, proved here with
transactions held open across a concurrent request, and by writers racing a DELETE over HTTP.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from honcho_server.db.session import unit_of_work
from honcho_server.schemas.messages import MessageBatchCreate
from honcho_server.schemas.sessions import SessionCreate
from honcho_server.services import lifecycle, messages
from honcho_server.services.sessions import SessionService


def _batch(peer: str, content: str) -> dict[str, Any]:
    return {"messages": [{"peer_id": peer, "content": content}]}


async def _count(engine: AsyncEngine, sql: str, **params: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


@asynccontextmanager
async def _holding(engine: AsyncEngine, sql: str, **params: Any) -> AsyncIterator[AsyncConnection]:
    """A transaction that keeps the rows ``sql`` locks until the block ends (it holds a purge
    back: ``FOR KEY SHARE`` blocks only the DELETE of the rows)."""
    async with engine.connect() as conn:
        await conn.execute(text(sql), params)
        try:
            yield conn
        finally:
            await conn.rollback()


def _hold_workspace(engine: AsyncEngine, ws: str) -> Any:
    return _holding(engine, "SELECT 1 FROM workspaces WHERE name = :ws FOR KEY SHARE", ws=ws)


async def _blocked(task: asyncio.Task[Any]) -> bool:
    await asyncio.sleep(0.3)
    return not task.done()


# --- every write path, answered --------------------------------------------------------------


async def test_writes_into_a_deleted_session_are_404(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    base = f"/v3/workspaces/{ws}"
    r = await client.post(f"{base}/sessions/s/messages", json=_batch("p", "x"))
    assert r.status_code == 201
    assert (await client.post(f"{base}/scopes", json={"id": "sc"})).status_code == 201
    engine: AsyncEngine = app.state.engine
    sql = "SELECT 1 FROM sessions WHERE workspace_name = :ws FOR KEY SHARE"
    async with _holding(engine, sql, ws=ws):  # the purge waits: the session stays inactive
        assert (await client.delete(f"{base}/sessions/s")).status_code == 202
        writes = {
            "messages": client.post(f"{base}/sessions/s/messages", json=_batch("p", "y")),
            "upload": client.post(
                f"{base}/sessions/s/messages/upload",
                data={"peer_id": "p"},
                files={"file": ("a.txt", b"text", "text/plain")},
            ),
            "get-or-create": client.post(f"{base}/sessions", json={"id": "s"}),
            "update": client.put(f"{base}/sessions/s", json={"metadata": {"a": 1}}),
            "add peers": client.post(f"{base}/sessions/s/peers", json={"q": {}}),
            "set peers": client.put(f"{base}/sessions/s/peers", json={"q": {}}),
            "peer config": client.put(
                f"{base}/sessions/s/peers/p/config", json={"observe_me": False}
            ),
            "clone": client.post(f"{base}/sessions/s/clone"),
            "scope": client.post(f"{base}/scopes/sc/sessions", json={"session_ids": ["s"]}),
            "conclusion": client.post(
                f"{base}/conclusions",
                json={
                    "conclusions": [
                        {"content": "c", "observer_id": "p", "observed_id": "p", "session_id": "s"}
                    ]
                },
            ),
        }
        for name, write in writes.items():
            r = await write
            assert r.status_code == 404, (name, r.status_code, r.text)
        rows = await _count(
            engine,
            "SELECT (SELECT count(*) FROM messages WHERE workspace_name = :ws)"
            " + (SELECT count(*) FROM sessions WHERE workspace_name = :ws AND is_active)"
            " + (SELECT count(*) FROM conclusions WHERE workspace_name = :ws)"
            " + (SELECT count(*) FROM scope_sessions WHERE workspace_name = :ws)",
            ws=ws,
        )
        assert rows == 1  # the one message written before the delete


async def test_writes_into_a_workspace_being_deleted_are_refused(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    base = f"/v3/workspaces/{ws}"
    assert (await client.post(f"{base}/peers", json={"id": "p"})).status_code == 201
    engine: AsyncEngine = app.state.engine
    async with _hold_workspace(engine, ws):  # the purge waits: the tombstone stays
        assert (await client.delete(base)).status_code == 202
        conflicts = {  # writes that would create something: the name is still taken
            "messages": client.post(f"{base}/sessions/new/messages", json=_batch("p", "x")),
            "upload": client.post(
                f"{base}/sessions/new/messages/upload",
                data={"peer_id": "p"},
                files={"file": ("a.txt", b"text", "text/plain")},
            ),
            "session": client.post(f"{base}/sessions", json={"id": "new"}),
            "session put": client.put(f"{base}/sessions/new", json={}),
            "session peers": client.post(f"{base}/sessions/new/peers", json={"p": {}}),
            "peer": client.post(f"{base}/peers", json={"id": "q"}),
            "existing peer": client.post(f"{base}/peers", json={"id": "p", "metadata": {}}),
            "peer put": client.put(f"{base}/peers/q", json={"metadata": {}}),
            "peer card": client.put(f"{base}/peers/q/card", json={"peer_card": ["x"]}),
            "scope": client.post(f"{base}/scopes", json={"id": "sc"}),
            "workspace": client.post("/v3/workspaces", json={"id": ws}),
            "workspace put": client.put(base, json={"metadata": {"a": 1}}),
        }
        for name, write in conflicts.items():
            r = await write
            assert r.status_code == 409, (name, r.status_code, r.text)
            assert "being deleted" in r.json()["detail"], (name, r.text)
        not_found = {  # writes that need the workspace to exist
            "conclusion": client.post(
                f"{base}/conclusions",
                json={"conclusions": [{"content": "c", "observer_id": "p", "observed_id": "p"}]},
            ),
            "webhook": client.post(f"{base}/webhooks", json={"url": "https://example.com/h"}),
            "delete": client.delete(base),
        }
        for name, write in not_found.items():
            r = await write
            assert r.status_code == 404, (name, r.status_code, r.text)
        rows = await _count(
            engine,
            "SELECT (SELECT count(*) FROM peers WHERE workspace_name = :ws)"
            " + (SELECT count(*) FROM sessions WHERE workspace_name = :ws)"
            " + (SELECT count(*) FROM conclusions WHERE workspace_name = :ws)"
            " + (SELECT count(*) FROM scopes WHERE workspace_name = :ws)"
            " + (SELECT count(*) FROM webhook_endpoints WHERE workspace_name = :ws)",
            ws=ws,
        )
        assert rows == 1  # peer p, from before the delete
    # once purged, the name is free again
    for _ in range(100):
        r = await client.post(f"{base}/sessions/new/messages", json=_batch("p", "x"))
        if r.status_code == 201:
            break
        assert r.status_code == 409
        await asyncio.sleep(0.05)
    assert r.status_code == 201


# --- the races, proved with a transaction held open --------------------------------------------


async def test_a_delete_waits_for_a_writer_holding_the_workspace_and_sees_its_session(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    """A writer creating a session holds the workspace: the DELETE waits, then finds the
    session active (409) instead of acknowledging a deletion that would purge it."""
    assert (await client.post(f"/v3/workspaces/{ws}/peers", json={"id": "p"})).status_code == 201
    writers: list[tuple[str, Callable[[Any], Awaitable[Any]]]] = [
        (
            "s1",  # ingest creating its session
            lambda db: messages.create_batch(
                db, ws, "s1", MessageBatchCreate.model_validate(_batch("p", "x")), embed=False
            ),
        ),
        (
            "s2",  # session get-or-create
            lambda db: SessionService(db, observers_limit=10).get_or_create(
                ws, SessionCreate(id="s2")
            ),
        ),
    ]
    for session, write in writers:
        async with unit_of_work(app.state.session_factory) as db:
            await write(db)
            delete = asyncio.create_task(client.delete(f"/v3/workspaces/{ws}"))
            assert await _blocked(delete), session
        r = await delete
        assert r.status_code == 409, (session, r.text)
        r = await client.delete(f"/v3/workspaces/{ws}/sessions/{session}")
        assert r.status_code == 202


async def test_a_writer_that_waited_for_a_delete_sees_the_tombstone(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    """A DELETE not yet committed holds the workspace row: writers wait for it, then re-read
    the row and find it tombstoned (409), whatever their snapshot said."""
    base = f"/v3/workspaces/{ws}"
    assert (await client.post(f"{base}/peers", json={"id": "p"})).status_code == 201
    async with _hold_workspace(app.state.engine, ws):
        async with unit_of_work(app.state.session_factory) as db:
            await lifecycle.delete_workspace(db, ws)
            writes = [
                asyncio.create_task(
                    client.post(f"{base}/sessions/new/messages", json=_batch("p", "x"))
                ),
                asyncio.create_task(client.post(f"{base}/sessions", json={"id": "other"})),
                asyncio.create_task(client.post(f"{base}/peers", json={"id": "q"})),
            ]
            for task in writes:
                assert await _blocked(task)
        for task in writes:
            r = await task
            assert r.status_code == 409, r.text
        count = "SELECT count(*) FROM sessions WHERE workspace_name = :ws"
        assert await _count(app.state.engine, count, ws=ws) == 0


async def test_a_session_delete_waits_for_a_writer_and_a_late_writer_gets_404(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    base = f"/v3/workspaces/{ws}/sessions/s"
    assert (await client.post(f"{base}/messages", json=_batch("p", "x"))).status_code == 201
    body = MessageBatchCreate.model_validate(_batch("p", "y"))
    sql = "SELECT 1 FROM sessions WHERE workspace_name = :ws FOR KEY SHARE"
    async with _holding(app.state.engine, sql, ws=ws):  # the purge waits
        async with unit_of_work(app.state.session_factory) as db:
            await messages.create_batch(db, ws, "s", body, embed=False)
            delete = asyncio.create_task(client.delete(base))
            assert await _blocked(delete)
        assert (await delete).status_code == 202  # after the write committed
        r = await client.post(f"{base}/messages", json=_batch("p", "z"))
        assert r.status_code == 404, r.text


# --- the hot path stays one statement ----------------------------------------------------------


async def test_ingest_checks_the_tombstone_in_its_one_write_statement(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    me = asyncio.current_task()
    touching: list[str] = []

    def record(*args: Any) -> None:
        if asyncio.current_task() is me and "deleted_at" in args[2]:
            touching.append(args[2])

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        for session in ("new", "new", "other"):  # created, existing, created in a known ws
            touching.clear()
            url = f"/v3/workspaces/{ws}/sessions/{session}/messages"
            assert (await client.post(url, json=_batch("p", "x"))).status_code == 201
            assert len(touching) == 1, touching
    finally:
        event.remove(engine, "before_cursor_execute", record)


# --- delete vs ingest over real HTTP -----------------------------------------------------------


@dataclass(frozen=True)
class Ack:
    content: str
    sent: float
    done: float
    status: int


async def _write_until(
    stop: asyncio.Event, log: list[Ack], post: Callable[[str], Awaitable[httpx.Response]], tag: str
) -> None:
    i = 0
    while not stop.is_set():
        content = f"{tag}-{i}"
        sent = time.monotonic()
        r = await post(content)
        log.append(Ack(content, sent, time.monotonic(), r.status_code))
        i += 1


async def _eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(200):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not after 10 s: {what}")


def _summary(name: str, log: list[Ack], found: set[str], t_202: float) -> str:
    acked = [a for a in log if a.status in (200, 201)]
    return (
        f"{name}: {len(log)} requests, {len(acked)} acknowledged "
        f"({sum(a.done < t_202 for a in acked)} before the 202), "
        f"{sum(a.content in found for a in acked)} found afterwards, statuses "
        f"{sorted({a.status for a in log})}"
    )


async def test_workspace_delete_vs_eight_writers_over_http(
    live_server: str, database_url: str
) -> None:
    """8 writers ingest into their own sessions of W (2 more create peers) while the sessions
    and then W are deleted. The purges are held back with row locks so that every window
    is exercised: sessions inactive, sessions purged while W is tombstoned, W purged and
    created again by the next write. No write is acknowledged between the 202 and the purge,
    and every acknowledged write either exists at the end or was acknowledged before it."""
    ws = f"ws-{uuid.uuid4().hex[:12]}"
    base = f"{live_server}/v3/workspaces/{ws}"
    engine = create_async_engine(database_url)
    stop = asyncio.Event()
    ingest: list[Ack] = []
    peers: list[Ack] = []
    limits = httpx.Limits(max_connections=32)
    try:
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:

            def ingest_into(w: int) -> Callable[[str], Awaitable[httpx.Response]]:
                return lambda c: http.post(f"{base}/sessions/s{w}/messages", json=_batch("p", c))

            def create_peer(c: str) -> Awaitable[httpx.Response]:
                return http.post(f"{base}/peers", json={"id": c})

            writers = [
                *(_write_until(stop, ingest, ingest_into(w), f"w{w}") for w in range(8)),
                *(_write_until(stop, peers, create_peer, f"peer{w}") for w in range(2)),
            ]
            running = asyncio.gather(*writers)
            await _eventually(lambda: _has_sessions(engine, ws, 8), "8 sessions written")
            await asyncio.sleep(0.3)
            async with _hold_workspace(engine, ws) as hold_ws:
                sql = "SELECT 1 FROM sessions WHERE workspace_name = :ws FOR KEY SHARE"
                async with _holding(engine, sql, ws=ws) as hold_sessions:
                    deleted = await asyncio.gather(
                        *(http.delete(f"{base}/sessions/s{w}") for w in range(8))
                    )
                    assert [r.status_code for r in deleted] == [202] * 8
                    r = await http.delete(base)
                    t_202 = time.monotonic()
                    assert r.status_code == 202, r.text
                    await asyncio.sleep(0.5)  # sessions inactive, not purged
                    await hold_sessions.rollback()
                    t_sessions_purged = time.monotonic()
                    await _eventually(lambda: _purged_some(engine, ws), "a session purged")
                    await asyncio.sleep(0.5)  # sessions purged, W tombstoned
                t_release = time.monotonic()
                await hold_ws.rollback()
            await asyncio.sleep(0.8)  # W purged; the next writes create it again
            stop.set()
            await running
        await _eventually(lambda: _not_tombstoned(engine, ws), "workspace purged")
        found = await _contents(
            engine, "SELECT content FROM messages WHERE workspace_name = :ws", ws
        )
        found_peers = await _contents(
            engine, "SELECT name FROM peers WHERE workspace_name = :ws", ws
        )
    finally:
        stop.set()
        await engine.dispose()

    print(_summary("ingest", ingest, found, t_202))
    print(_summary("peers", peers, found_peers, t_202))
    for log, present, ok in ((ingest, found, {201, 404, 409}), (peers, found_peers, {201, 409})):
        assert {a.status for a in log} <= ok
        # only writes sent once the 202 was in: one in flight beside the DELETE may have
        # committed before it (then purged with the session), its 201 read a moment later
        lost = [a for a in log if a.status == 201 and a.content not in present and a.sent >= t_202]
        assert lost == [], lost[:5]
        late = [a for a in log if a.status == 201 and a.sent >= t_202 and a.done < t_release]
        assert late == [], late[:5]
        assert any(a.status == 201 and a.done > t_release for a in log)  # created again
    # the window this bug lived in: sessions purged, W still tombstoned
    window = [a for a in ingest if t_sessions_purged + 0.1 < a.sent and a.done < t_release]
    assert window and all(a.status == 409 for a in window), window[:5]


async def test_session_delete_vs_eight_writers_over_http(
    live_server: str, database_url: str
) -> None:
    ws = f"ws-{uuid.uuid4().hex[:12]}"
    url = f"{live_server}/v3/workspaces/{ws}/sessions/s"
    engine = create_async_engine(database_url)
    stop = asyncio.Event()
    log: list[Ack] = []
    try:
        async with httpx.AsyncClient(timeout=30) as http:

            def post(c: str) -> Awaitable[httpx.Response]:
                return http.post(f"{url}/messages", json=_batch("p", c))

            running = asyncio.gather(*(_write_until(stop, log, post, f"w{w}") for w in range(8)))
            await _eventually(lambda: _has_sessions(engine, ws, 1), "session written")
            await asyncio.sleep(0.3)
            sql = "SELECT 1 FROM sessions WHERE workspace_name = :ws FOR KEY SHARE"
            async with _holding(engine, sql, ws=ws) as hold:
                r = await http.delete(url)
                t_202 = time.monotonic()
                assert r.status_code == 202, r.text
                await asyncio.sleep(0.6)
                t_release = time.monotonic()
                await hold.rollback()
            await asyncio.sleep(0.6)  # purged; the next writes create the session again
            stop.set()
            await running
        inactive = "SELECT count(*) FROM sessions WHERE workspace_name = :ws AND NOT is_active"
        await _eventually(lambda: _zero(engine, inactive, ws), "session purged")
        found = await _contents(
            engine, "SELECT content FROM messages WHERE workspace_name = :ws", ws
        )
    finally:
        stop.set()
        await engine.dispose()

    print(_summary("session", log, found, t_202))
    assert {a.status for a in log} <= {201, 404}
    # only writes sent once the 202 was in: one in flight beside the DELETE may have committed
    # before it (then purged with the session) and had its 201 read a moment after the 202
    # (CI saw three, 0.1-1 ms after it)
    lost = [a for a in log if a.status == 201 and a.content not in found and a.sent >= t_202]
    assert lost == [], lost[:5]
    late = [a for a in log if a.status == 201 and a.sent >= t_202 and a.done < t_release]
    assert late == [], late[:5]
    assert any(a.status == 404 for a in log) and any(
        a.done > t_release and a.status == 201 for a in log
    )


async def _has_sessions(engine: AsyncEngine, ws: str, n: int) -> bool:
    sql = "SELECT count(*) FROM sessions WHERE workspace_name = :ws"
    return await _count(engine, sql, ws=ws) >= n


async def _purged_some(engine: AsyncEngine, ws: str) -> bool:
    return not await _has_sessions(engine, ws, 8)


async def _not_tombstoned(engine: AsyncEngine, ws: str) -> bool:
    sql = "SELECT count(*) FROM workspaces WHERE name = :ws AND deleted_at IS NOT NULL"
    return await _zero(engine, sql, ws)


async def _zero(engine: AsyncEngine, sql: str, ws: str) -> bool:
    return await _count(engine, sql, ws=ws) == 0


async def _contents(engine: AsyncEngine, sql: str, ws: str) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(text(sql), {"ws": ws})).scalars())
