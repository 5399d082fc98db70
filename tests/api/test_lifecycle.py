"""Deleting sessions and workspaces (durable jobs) and cloning sessions."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text


async def _rows(app: FastAPI, sql: str, **params: Any) -> int:
    async with app.state.engine.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


async def _eventually_zero(app: FastAPI, sql: str, **params: Any) -> None:
    for _ in range(100):
        if await _rows(app, sql, **params) == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"still present after 5 s: {sql} {params}")


async def _seed(client: httpx.AsyncClient, ws: str, s: str, n: int = 3) -> list[dict[str, Any]]:
    r = await client.post(
        f"/v3/workspaces/{ws}/sessions/{s}/messages",
        json={
            "messages": [
                {"peer_id": f"p{i % 2}", "content": f"m{i}", "metadata": {"i": i}} for i in range(n)
            ]
        },
    )
    assert r.status_code == 201
    out: list[dict[str, Any]] = r.json()
    return out


async def test_delete_session_hides_at_once_and_purges(
    client: httpx.AsyncClient, app: FastAPI, ws: str
) -> None:
    msgs = await _seed(client, ws, "doomed")
    await _seed(client, ws, "kept")
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO conclusions (id, workspace_name, observer, observed, session_name,"
                " content) VALUES (:id, :w, 'p0', 'p0', 'doomed', 'x')"
            ),
            {"id": f"{ws}-lock", "w": ws},
        )
    # Hold the purge back (it deletes the session's conclusions first) while checking that
    # the session is already gone from every read and write.
    blocker = await app.state.engine.connect()
    await blocker.execute(
        text("SELECT 1 FROM conclusions WHERE id = :id FOR UPDATE"), {"id": f"{ws}-lock"}
    )
    r = await client.delete(f"/v3/workspaces/{ws}/sessions/doomed")
    assert r.status_code == 202 and r.json() == {"message": "Session deleted successfully"}
    # gone from every read immediately
    listed = await client.post(f"/v3/workspaces/{ws}/sessions/list")
    assert [s["id"] for s in listed.json()["items"]] == ["kept"]
    assert (await client.post(f"/v3/workspaces/{ws}/sessions/doomed/messages/list")).json()[
        "total"
    ] == 0
    assert (
        await client.get(f"/v3/workspaces/{ws}/sessions/doomed/messages/{msgs[0]['id']}")
    ).status_code == 404
    assert (await client.get(f"/v3/workspaces/{ws}/sessions/doomed/context")).json()[
        "messages"
    ] == []
    assert (await client.get(f"/v3/workspaces/{ws}/sessions/doomed/peers")).json()["total"] == 0
    assert (await client.delete(f"/v3/workspaces/{ws}/sessions/doomed")).status_code == 404
    assert (await client.put(f"/v3/workspaces/{ws}/sessions/doomed", json={})).status_code == 404
    write = await client.post(
        f"/v3/workspaces/{ws}/sessions/doomed/messages",
        json={"messages": [{"peer_id": "p0", "content": "x"}]},
    )
    assert write.status_code == 404
    await blocker.rollback()
    await blocker.close()
    # and purged by the worker: rows are really gone, the other session untouched
    await _eventually_zero(
        app,
        "SELECT count(*) FROM messages WHERE workspace_name = :w AND session_name = 'doomed'",
        w=ws,
    )
    await _eventually_zero(
        app, "SELECT count(*) FROM sessions WHERE workspace_name = :w AND name = 'doomed'", w=ws
    )
    assert await _rows(app, "SELECT count(*) FROM messages WHERE workspace_name = :w", w=ws) == 3
    assert (
        await _rows(
            app,
            "SELECT count(*) FROM jobs WHERE workspace_name = :w AND kind = 'delete_session'"
            " AND status = 'succeeded'",
            w=ws,
        )
        == 1
    )
    # the name can be used again
    again = await client.post(f"/v3/workspaces/{ws}/sessions", json={"id": "doomed"})
    assert again.status_code == 201


async def test_delete_workspace(client: httpx.AsyncClient, app: FastAPI, ws: str) -> None:
    await _seed(client, ws, "s1")
    assert (await client.delete(f"/v3/workspaces/{ws}")).status_code == 409  # active session
    assert (await client.delete("/v3/workspaces/never-existed-ws")).status_code == 404
    assert (await client.delete(f"/v3/workspaces/{ws}/sessions/s1")).status_code == 202
    r = await client.delete(f"/v3/workspaces/{ws}")
    assert r.status_code == 202 and r.json() == {"message": "Workspace deletion accepted"}
    listed = await client.post("/v3/workspaces/list", json={"filters": {"id": ws}})
    assert listed.json()["total"] == 0
    await _eventually_zero(app, "SELECT count(*) FROM workspaces WHERE name = :w", w=ws)
    for table in ("peers", "sessions", "messages", "session_peers"):
        assert (
            await _rows(app, f"SELECT count(*) FROM {table} WHERE workspace_name = :w", w=ws) == 0
        )
    assert (await client.post("/v3/workspaces", json={"id": ws})).status_code == 201


async def test_clone_copies_everything_up_to_a_message(client: httpx.AsyncClient, ws: str) -> None:
    await client.post(
        f"/v3/workspaces/{ws}/sessions",
        json={
            "id": "src",
            "metadata": {"m": 1},
            "configuration": {"summary": {"enabled": False}},
            "peers": {"p0": {"observe_others": True}, "gone": {}},
        },
    )
    await client.request("DELETE", f"/v3/workspaces/{ws}/sessions/src/peers", json=["gone"])
    msgs = await _seed(client, ws, "src", n=5)
    r = await client.post(f"/v3/workspaces/{ws}/sessions/src/clone")
    assert r.status_code == 201
    clone = r.json()
    assert len(clone["id"]) == 21 and clone["metadata"] == {"m": 1}
    assert clone["configuration"] == {"summary": {"enabled": False}} and clone["is_active"]
    copied = (
        await client.post(f"/v3/workspaces/{ws}/sessions/{clone['id']}/messages/list")
    ).json()["items"]
    assert [
        (m["content"], m["peer_id"], m["metadata"], m["token_count"], m["created_at"])
        for m in copied
    ] == [
        (m["content"], m["peer_id"], m["metadata"], m["token_count"], m["created_at"]) for m in msgs
    ]
    assert not {m["id"] for m in copied} & {m["id"] for m in msgs}
    members = (await client.get(f"/v3/workspaces/{ws}/sessions/{clone['id']}/peers")).json()[
        "items"
    ]
    assert sorted(p["id"] for p in members) == ["p0", "p1"]  # "gone" stays gone
    cfg = await client.get(f"/v3/workspaces/{ws}/sessions/{clone['id']}/peers/p0/config")
    assert cfg.json()["observe_others"] is True

    partial = (
        await client.post(
            f"/v3/workspaces/{ws}/sessions/src/clone", params={"message_id": msgs[1]["id"]}
        )
    ).json()
    items = (
        await client.post(f"/v3/workspaces/{ws}/sessions/{partial['id']}/messages/list")
    ).json()["items"]
    assert [m["content"] for m in items] == ["m0", "m1"]
    # appending to a clone continues its sequence
    more = await client.post(
        f"/v3/workspaces/{ws}/sessions/{partial['id']}/messages",
        json={"messages": [{"peer_id": "p0", "content": "m-new"}]},
    )
    assert more.status_code == 201

    assert (
        await client.post(f"/v3/workspaces/{ws}/sessions/src/clone", params={"message_id": "nope"})
    ).status_code == 404
    assert (await client.post(f"/v3/workspaces/{ws}/sessions/missing/clone")).status_code == 404


async def test_maintenance_purges_old_soft_deleted_conclusions(app: FastAPI, ws: str) -> None:
    from honcho_server.worker.runner import maintain

    async with app.state.engine.begin() as conn:
        await conn.execute(text("INSERT INTO workspaces (name) VALUES (:w)"), {"w": ws})
        await conn.execute(
            text(
                "INSERT INTO conclusions"
                " (id, workspace_name, observer, observed, content, deleted_at)"
                " VALUES (:a, :w, 'p', 'p', 'old', now() - interval '6 minutes'),"
                " (:b, :w, 'p', 'p', 'recent', now() - interval '1 minute'),"
                " (:c, :w, 'p', 'p', 'live', NULL)"
            ),
            {"w": ws, "a": f"{ws}-a", "b": f"{ws}-b", "c": f"{ws}-c"},
        )
    await maintain(app.state.session_factory)
    left = await _rows(app, "SELECT count(*) FROM conclusions WHERE workspace_name = :w", w=ws)
    assert left == 2  # only the one deleted more than 5 minutes ago is gone
