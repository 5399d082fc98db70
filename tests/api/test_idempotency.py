"""Idempotency-Key on the routes that create (beyond upstream): a retry gets the first
response back and writes nothing; without a key, a retry writes again (at-least-once)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from honcho_server.db.repositories.idempotency import IdempotencyRepository
from honcho_server.db.session import unit_of_work

BATCH = {
    "messages": [
        {"peer_id": "alice", "content": "hello", "metadata": {"n": 1}},
        {"peer_id": "bob", "content": "hi alice"},
    ]
}


def _url(ws: str, session: str = "s") -> str:
    return f"/v3/workspaces/{ws}/sessions/{session}/messages"


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def _stored(engine: AsyncEngine, ws: str) -> int:
    async with engine.connect() as conn:
        sql = "SELECT count(*) FROM messages WHERE workspace_name = :ws"
        return int((await conn.execute(text(sql), {"ws": ws})).scalar_one())


async def test_a_retry_with_the_key_gets_the_first_response_and_writes_nothing(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    key = _key()
    first = await client.post(_url(ws), json=BATCH, headers=key)
    again = await client.post(_url(ws), json=BATCH, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content  # the same bytes: ids, timestamps, order
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert [m["content"] for m in first.json()] == ["hello", "hi alice"]
    assert await _stored(app.state.engine, ws) == 2
    # formatting is not part of the request: the same body sent differently is a replay
    same = await client.post(
        _url(ws),
        content=httpx.Request("POST", "/", json=BATCH).content.replace(b",", b" ,"),
        headers={**key, "Content-Type": "application/json"},
    )
    assert same.status_code == 201 and same.content == first.content


async def test_without_a_key_a_retry_writes_twice(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    """At-least-once: a client that resends a batch it got no answer for stores it again."""
    for _ in range(2):
        assert (await client.post(_url(ws), json=BATCH)).status_code == 201
    assert await _stored(app.state.engine, ws) == 4


async def test_the_same_key_with_another_request_is_422(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    key = _key()
    assert (await client.post(_url(ws), json=BATCH, headers=key)).status_code == 201
    changed = {"messages": [{**BATCH["messages"][0], "content": "changed"}]}
    elsewhere = {"messages": BATCH["messages"]}
    for url, body in ((_url(ws), changed), (_url(ws, "other"), elsewhere)):
        r = await client.post(url, json=body, headers=key)
        assert r.status_code == 422, r.text
        assert r.json() == {
            "detail": "This Idempotency-Key was already used with a different request"
        }
    assert await _stored(app.state.engine, ws) == 2
    # keys are per workspace and per operation: the same key elsewhere is a new request
    other_ws = f"ws-{uuid.uuid4().hex[:12]}"
    assert (await client.post(_url(other_ws), json=BATCH, headers=key)).status_code == 201
    upload = await client.post(
        f"{_url(ws)}/upload",
        data={"peer_id": "alice"},
        files={"file": ("a.txt", b"some text", "text/plain")},
        headers=key,
    )
    assert upload.status_code == 201


async def test_a_failed_request_stores_no_key(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    """Only a committed response is kept: after a 404 the same request with the same key
    runs again once it can succeed."""
    assert (await client.post(_url(ws), json=BATCH)).status_code == 201
    key = _key()
    async with app.state.engine.connect() as hold:  # the session's purge waits
        sql = "SELECT 1 FROM sessions WHERE workspace_name = :ws FOR KEY SHARE"
        await hold.execute(text(sql), {"ws": ws})
        assert (await client.delete(f"/v3/workspaces/{ws}/sessions/s")).status_code == 202
        assert (await client.post(_url(ws), json=BATCH, headers=key)).status_code == 404
        await hold.rollback()
    for _ in range(100):  # once purged, the write creates the session again
        r = await client.post(_url(ws), json=BATCH, headers=key)
        if r.status_code == 201:
            break
        assert r.status_code == 404
        await asyncio.sleep(0.05)
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    replay = await client.post(_url(ws), json=BATCH, headers=key)
    assert replay.content == r.content and replay.headers["idempotent-replayed"] == "true"


async def test_bad_keys_are_422(client: httpx.AsyncClient, ws: str) -> None:
    for value in ("", "k" * 256):
        r = await client.post(_url(ws), json=BATCH, headers={"Idempotency-Key": value})
        assert r.status_code == 422, (value, r.text)


async def test_uploads_are_created_once(client: httpx.AsyncClient, app: FastAPI, ws: str) -> None:
    key = _key()
    responses = [
        await client.post(
            f"{_url(ws)}/upload",
            data={"peer_id": "alice", "metadata": '{"a": 1}'},
            files={"file": ("notes.txt", b"line one\n\nline two", "text/plain")},
            headers=key,
        )
        for _ in range(2)
    ]
    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].content == responses[1].content
    assert await _stored(app.state.engine, ws) == len(responses[0].json())
    other_file = await client.post(
        f"{_url(ws)}/upload",
        data={"peer_id": "alice", "metadata": '{"a": 1}'},
        files={"file": ("notes.txt", b"another text", "text/plain")},
        headers=key,
    )
    assert other_file.status_code == 422


async def test_a_key_costs_two_statements(client: httpx.AsyncClient, app: FastAPI, ws: str) -> None:
    me = asyncio.current_task()
    seen: list[str] = []

    def record(*args: Any) -> None:
        if asyncio.current_task() is me:
            seen.append(args[2])

    engine = app.state.engine.sync_engine
    await client.post(_url(ws), json=BATCH)  # the session exists for both
    event.listen(engine, "before_cursor_execute", record)
    try:
        await client.post(_url(ws), json=BATCH)
        plain = len(seen)
        seen.clear()
        await client.post(_url(ws), json=BATCH, headers=_key())
        keyed = len(seen)
        seen.clear()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert keyed == plain + 2  # claim, store


async def test_expired_keys_are_purged_and_not_replayed(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    key = _key()
    assert (await client.post(_url(ws), json=BATCH, headers=key)).status_code == 201
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'"
                " WHERE workspace_name = :ws"
            ),
            {"ws": ws},
        )
    # expired (TTL 24 h): the request runs again and its new response is kept
    again = await client.post(_url(ws), json=BATCH, headers=key)
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert await _stored(app.state.engine, ws) == 4
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'"
                " WHERE workspace_name = :ws"
            ),
            {"ws": ws},
        )
    async with unit_of_work(app.state.session_factory) as db:
        purged = await IdempotencyRepository(db).purge_expired(timedelta(hours=24))
    assert purged >= 1
    async with app.state.engine.connect() as conn:
        left = "SELECT count(*) FROM idempotency_keys WHERE workspace_name = :ws"
        assert (await conn.execute(text(left), {"ws": ws})).scalar_one() == 0


async def test_two_identical_requests_in_flight_at_once_store_one_copy(
    live_server: str, database_url: str
) -> None:
    """Over HTTP. While the first request holds its key (here: it waits for a session row
    another transaction has locked), the second gets 409; once the first has committed, a
    retry gets its response. And ten sent together end with one copy."""
    ws = f"ws-{uuid.uuid4().hex[:12]}"
    url = f"{live_server}{_url(ws)}"
    engine = create_async_engine(database_url)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            assert (await http.post(url, json=BATCH)).status_code == 201
            key = _key()
            async with engine.connect() as blocker:
                await blocker.execute(
                    text("SELECT 1 FROM sessions WHERE workspace_name = :ws FOR UPDATE"),
                    {"ws": ws},
                )
                first = asyncio.create_task(http.post(url, json=BATCH, headers=key))
                await asyncio.sleep(0.5)
                assert not first.done()
                second = await http.post(url, json=BATCH, headers=key)
                assert second.status_code == 409, second.text
                assert "still being processed" in second.json()["detail"]
                await blocker.rollback()
            done = await first
            retry = await http.post(url, json=BATCH, headers=key)
            assert done.status_code == retry.status_code == 201
            assert retry.content == done.content
            assert await _stored(engine, ws) == 4

            key = _key()
            together = await asyncio.gather(
                *(http.post(url, json=BATCH, headers=key) for _ in range(10))
            )
            statuses = sorted(r.status_code for r in together)
            print("10 identical requests at once:", statuses)
            assert set(statuses) <= {201, 409} and 201 in statuses, statuses
            assert len({r.content for r in together if r.status_code == 201}) == 1
            assert await _stored(engine, ws) == 6
    finally:
        await engine.dispose()


async def test_conclusions_are_created_once(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    assert (
        await client.post(f"/v3/workspaces/{ws}/peers", json={"id": "alice"})
    ).status_code == 201
    body = {
        "conclusions": [{"content": "likes tea", "observer_id": "alice", "observed_id": "alice"}]
    }
    key = _key()
    url = f"/v3/workspaces/{ws}/conclusions"
    first, again = [await client.post(url, json=body, headers=key) for _ in range(2)]
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    # the upstream alias names the same request
    alias = await client.post(url, json={"observations": body["conclusions"]}, headers=key)
    assert alias.content == first.content
    async with app.state.engine.connect() as conn:
        sql = "SELECT count(*) FROM conclusions WHERE workspace_name = :ws"
        assert (await conn.execute(text(sql), {"ws": ws})).scalar_one() == 1
    assert (await client.post(url, json=body)).status_code == 201  # no key: a second copy


async def test_clones_are_created_once(client: httpx.AsyncClient, app: FastAPI, ws: str) -> None:
    assert (await client.post(_url(ws), json=BATCH)).status_code == 201
    key = _key()
    url = f"/v3/workspaces/{ws}/sessions/s/clone"
    first, again = [await client.post(url, headers=key) for _ in range(2)]
    assert first.status_code == again.status_code == 201
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    async with app.state.engine.connect() as conn:
        sql = "SELECT count(*) FROM sessions WHERE workspace_name = :ws"
        assert (await conn.execute(text(sql), {"ws": ws})).scalar_one() == 2  # s and one clone
    assert (await client.post(url)).status_code == 201  # no key: another clone
