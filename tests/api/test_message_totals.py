"""The ``total`` of a session's message list is the session's kept ``message_count``
(migration 0018), not a count of its rows: every writer that adds or removes messages must keep
it equal to what the session holds. Each test changes a session's messages one way and checks
the list's total (and its pages count) against the rows themselves."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from api.test_deletion import _write


async def _rows(app: FastAPI, ws: str, session: str) -> int:
    async with app.state.engine.connect() as conn:
        found = await conn.execute(
            text("SELECT count(*) FROM messages WHERE workspace_name = :w AND session_name = :s"),
            {"w": ws, "s": session},
        )
        return int(found.scalar_one())


async def _page(
    client: httpx.AsyncClient, ws: str, session: str, *, page: int = 1, size: int = 5, **q: Any
) -> dict[str, Any]:
    r = await client.post(
        f"/v3/workspaces/{ws}/sessions/{session}/messages/list",
        params={"page": page, "size": size, **q},
        json={},
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _assert_total(
    client: httpx.AsyncClient, app: FastAPI, ws: str, session: str, expected: int
) -> None:
    """The list says ``expected`` messages, newest or oldest first, on a page or past the end,
    and so do the rows."""
    assert await _rows(app, ws, session) == expected
    pages = -(-expected // 5)
    for reverse in ("false", "true"):
        first = await _page(client, ws, session, reverse=reverse)
        assert (first["total"], first["pages"]) == (expected, pages), (reverse, first)
        past = await _page(client, ws, session, page=pages + 2, reverse=reverse)
        assert (past["items"], past["total"], past["pages"]) == ([], expected, pages)


async def test_total_follows_writes_and_deletes(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    written = await _write(client, ws, "s1", [("alice", f"m{i}") for i in range(7)])
    await _assert_total(client, app, ws, "s1", 7)
    written += await _write(client, ws, "s1", [("bob", f"n{i}") for i in range(4)])
    await _assert_total(client, app, ws, "s1", 11)
    for doomed in (written[0], written[5], written[-1]):
        r = await client.delete(f"/v3/workspaces/{ws}/sessions/s1/messages/{doomed['id']}")
        assert r.status_code == 204
    await _assert_total(client, app, ws, "s1", 8)
    again = await client.delete(f"/v3/workspaces/{ws}/sessions/s1/messages/{written[0]['id']}")
    assert again.status_code == 404
    await _assert_total(client, app, ws, "s1", 8)
    # a filtered list still counts what matches
    r = await client.post(
        f"/v3/workspaces/{ws}/sessions/s1/messages/list",
        json={"filters": {"peer_id": "bob"}},
    )
    assert r.json()["total"] == 3  # n0..n2: n3 was deleted


async def test_total_after_deletes_beside_writers(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    first = await _write(client, ws, "s1", [("alice", f"old {i}") for i in range(30)])

    async def writer(n: int) -> None:
        await _write(client, ws, "s1", [("bob", f"new {n}.{i}") for i in range(3)])

    async def deleter(public_id: str) -> None:
        r = await client.delete(f"/v3/workspaces/{ws}/sessions/s1/messages/{public_id}")
        assert r.status_code == 204

    await asyncio.gather(*(writer(n) for n in range(10)), *(deleter(m["id"]) for m in first[::3]))
    await _assert_total(client, app, ws, "s1", 30 + 30 - 10)


async def test_total_after_erasing_a_peer_in_two_sessions(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    await _write(client, ws, "s1", [("alice", "a1"), ("bob", "b1"), ("alice", "a2")])
    await _write(client, ws, "s2", [("alice", "a3"), ("carol", "c1")])
    await _write(client, ws, "s3", [("bob", "b2")])
    r = await client.delete(f"/v3/workspaces/{ws}/peers/alice")
    assert r.status_code == 202
    for _ in range(200):
        if await _rows(app, ws, "s1") == 1:
            break
        await asyncio.sleep(0.05)
    await _assert_total(client, app, ws, "s1", 1)
    await _assert_total(client, app, ws, "s2", 1)
    await _assert_total(client, app, ws, "s3", 1)


async def test_total_of_a_copy_of_a_session_with_gaps(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    written = await _write(client, ws, "src", [("alice", f"m{i}") for i in range(9)])
    for doomed in (written[1], written[2], written[7]):
        r = await client.delete(f"/v3/workspaces/{ws}/sessions/src/messages/{doomed['id']}")
        assert r.status_code == 204
    whole = await client.post(f"/v3/workspaces/{ws}/sessions/src/clone")
    assert whole.status_code == 201, whole.text
    await _assert_total(client, app, ws, whole.json()["id"], 6)
    upto = await client.post(
        f"/v3/workspaces/{ws}/sessions/src/clone", params={"message_id": written[4]["id"]}
    )
    assert upto.status_code == 201, upto.text
    await _assert_total(client, app, ws, upto.json()["id"], 3)  # m0, m3, m4
    # the copy goes on counting from there
    await _write(client, ws, upto.json()["id"], [("bob", "later")])
    await _assert_total(client, app, ws, upto.json()["id"], 4)


async def test_total_of_an_imported_session_with_gaps(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    written = await _write(client, ws, "s1", [("alice", f"m{i}") for i in range(6)])
    r = await client.delete(f"/v3/workspaces/{ws}/sessions/s1/messages/{written[2]['id']}")
    assert r.status_code == 204
    exported = await client.get(f"/v3/workspaces/{ws}/export")
    assert exported.status_code == 200
    copy = f"{ws}-copy"
    imported = await client.post(
        "/v3/workspaces/import", content=exported.content, params={"workspace_id": copy}
    )
    assert imported.status_code == 201, imported.text
    await _assert_total(client, app, copy, "s1", 5)
    await _write(client, copy, "s1", [("bob", "after the import")])
    await _assert_total(client, app, copy, "s1", 6)


async def test_total_of_a_deleted_session_is_not_found(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    await _write(client, ws, "s1", [("alice", "m")])
    r = await client.delete(f"/v3/workspaces/{ws}/sessions/s1")
    assert r.status_code == 202
    listed = await client.post(f"/v3/workspaces/{ws}/sessions/s1/messages/list", json={})
    assert listed.status_code == 200  # as before: an absent session lists nothing
    assert (listed.json()["items"], listed.json()["total"]) == ([], 0)
