from __future__ import annotations

import httpx


async def _members(client: httpx.AsyncClient, ws: str, s: str) -> list[str]:
    r = await client.get(f"/v3/workspaces/{ws}/sessions/{s}/peers")
    assert r.status_code == 200
    return [p["id"] for p in r.json()["items"]]


async def _config(client: httpx.AsyncClient, ws: str, s: str, p: str) -> dict[str, object]:
    r = await client.get(f"/v3/workspaces/{ws}/sessions/{s}/peers/{p}/config")
    assert r.status_code == 200, r.text
    data: dict[str, object] = r.json()
    return data


async def test_session_get_or_create_with_peers(client: httpx.AsyncClient, ws: str) -> None:
    r = await client.post(
        f"/v3/workspaces/{ws}/sessions",
        json={
            "id": "s1",
            "metadata": {"topic": "x"},
            "peers": {"alice": {"observe_others": True}, "bob": {}},
        },
    )
    assert r.status_code == 201
    body = r.json()
    assert list(body) == [
        "id",
        "uid",
        "is_active",
        "workspace_id",
        "metadata",
        "configuration",
        "created_at",
    ]
    assert body["is_active"] is True and body["metadata"] == {"topic": "x"}
    assert sorted(await _members(client, ws, "s1")) == ["alice", "bob"]
    assert await _config(client, ws, "s1", "alice") == {"observe_me": None, "observe_others": True}

    # existing: metadata replaced, configuration merged, active member keeps its config
    r = await client.post(
        f"/v3/workspaces/{ws}/sessions",
        json={
            "id": "s1",
            "metadata": {"topic": "y"},
            "configuration": {"summary": {"enabled": False}},
            "peers": {"alice": {"observe_others": False}},
        },
    )
    assert r.status_code == 200
    assert r.json()["metadata"] == {"topic": "y"}
    assert r.json()["configuration"] == {"summary": {"enabled": False}}
    assert await _config(client, ws, "s1", "alice") == {"observe_me": None, "observe_others": True}


async def test_session_update_and_list(client: httpx.AsyncClient, ws: str) -> None:
    await client.post(
        f"/v3/workspaces/{ws}/sessions",
        json={
            "id": "a",
            "configuration": {"reasoning": {"enabled": True}, "dream": {"enabled": False}},
        },
    )
    r = await client.put(
        f"/v3/workspaces/{ws}/sessions/a", json={"configuration": {"reasoning": {"enabled": False}}}
    )
    assert r.json()["configuration"] == {
        "reasoning": {"enabled": False},
        "dream": {"enabled": False},
    }
    r = await client.put(f"/v3/workspaces/{ws}/sessions/b", json={"metadata": {"m": 1}})
    assert r.status_code == 200 and r.json()["metadata"] == {"m": 1}
    listed = await client.post(
        f"/v3/workspaces/{ws}/sessions/list", json={"filters": {"is_active": True}}
    )
    assert [s["id"] for s in listed.json()["items"]] == ["a", "b"]
    bad = await client.post(
        f"/v3/workspaces/{ws}/sessions/list", json={"filters": {"is_active": "true"}}
    )
    assert bad.status_code == 422 and isinstance(bad.json()["detail"], str)
    bad = await client.post(
        f"/v3/workspaces/{ws}/sessions/list", json={"filters": {"peer_id": "*"}}
    )
    assert bad.status_code == 422


async def test_add_set_remove_peers(client: httpx.AsyncClient, ws: str) -> None:
    base = f"/v3/workspaces/{ws}/sessions/s"
    r = await client.post(f"{base}/peers", json={"alice": {}, "bob": {"observe_me": False}})
    assert r.status_code == 200 and r.json()["id"] == "s"  # creates the session
    r = await client.request("DELETE", f"{base}/peers", json=["bob", "ghost"])
    assert r.status_code == 200
    assert await _members(client, ws, "s") == ["alice"]
    # a member that left still has its config
    assert await _config(client, ws, "s", "bob") == {"observe_me": False, "observe_others": None}
    # rejoining replaces the config
    await client.post(f"{base}/peers", json={"bob": {"observe_others": True}})
    assert await _config(client, ws, "s", "bob") == {"observe_me": None, "observe_others": True}
    # set replaces the member set and every given peer gets its given config
    r = await client.put(f"{base}/peers", json={"bob": {"observe_me": True}, "carol": {}})
    assert r.status_code == 200
    assert sorted(await _members(client, ws, "s")) == ["bob", "carol"]
    assert await _config(client, ws, "s", "bob") == {"observe_me": True, "observe_others": None}
    r = await client.put(f"{base}/peers", json={})
    assert await _members(client, ws, "s") == []
    missing = await client.put(f"/v3/workspaces/{ws}/sessions/nope/peers", json={"x": {}})
    assert missing.status_code == 404
    missing = await client.request("DELETE", f"/v3/workspaces/{ws}/sessions/nope/peers", json=["x"])
    assert missing.status_code == 404


async def test_peer_config_set_merges_and_joins(client: httpx.AsyncClient, ws: str) -> None:
    await client.post(
        f"/v3/workspaces/{ws}/sessions", json={"id": "s", "peers": {"alice": {"observe_me": False}}}
    )
    await client.post(f"/v3/workspaces/{ws}/peers", json={"id": "dave"})
    url = f"/v3/workspaces/{ws}/sessions/s/peers/alice/config"
    r = await client.put(url, json={"observe_others": True})
    assert r.status_code == 204 and r.content == b""
    assert await _config(client, ws, "s", "alice") == {"observe_me": False, "observe_others": True}
    # a peer without membership joins
    r = await client.put(
        f"/v3/workspaces/{ws}/sessions/s/peers/dave/config", json={"observe_me": True}
    )
    assert r.status_code == 204
    assert sorted(await _members(client, ws, "s")) == ["alice", "dave"]
    assert (await client.get(f"/v3/workspaces/{ws}/sessions/s/peers/zed/config")).status_code == 404
    assert (
        await client.put(f"/v3/workspaces/{ws}/sessions/s/peers/zed/config", json={})
    ).status_code == 404
    assert (
        await client.put(f"/v3/workspaces/{ws}/sessions/nope/peers/dave/config", json={})
    ).status_code == 404


async def test_observer_limit(client: httpx.AsyncClient, ws: str) -> None:
    peers = {f"p{i}": {"observe_others": True} for i in range(11)}
    r = await client.post(f"/v3/workspaces/{ws}/sessions", json={"id": "s", "peers": peers})
    assert r.status_code == 400 and "10" in r.json()["detail"]
    # nothing was created
    listed = await client.post(f"/v3/workspaces/{ws}/sessions/list")
    assert listed.json()["total"] == 0
    ten = {f"p{i}": {"observe_others": True} for i in range(10)}
    assert (
        await client.post(f"/v3/workspaces/{ws}/sessions", json={"id": "s", "peers": ten})
    ).status_code == 201
    r = await client.post(
        f"/v3/workspaces/{ws}/sessions/s/peers", json={"extra": {"observe_others": True}}
    )
    assert r.status_code == 400
    r = await client.put(
        f"/v3/workspaces/{ws}/sessions/s/peers/extra/config", json={"observe_others": True}
    )
    assert r.status_code in (400, 404)
    assert len(await _members(client, ws, "s")) == 10


async def test_get_reads_without_creating_and_404s_when_absent_or_deleted(
    client: httpx.AsyncClient, ws: str
) -> None:
    """GET …/sessions/{id}: beyond upstream, for the Rust SDK's refresh()/get_metadata()."""
    base = f"/v3/workspaces/{ws}/sessions"
    await client.post("/v3/workspaces", json={"id": ws})
    absent = await client.get(f"{base}/s1")
    assert absent.status_code == 404
    assert absent.json() == {"detail": "Session s1 not found"}
    assert (await client.post(f"{base}/list", json={})).json()["items"] == []

    created = await client.post(base, json={"id": "s1", "metadata": {"topic": "x"}})
    assert created.status_code == 201
    got = await client.get(f"{base}/s1")
    assert got.status_code == 200
    assert got.json() == created.json()
    listed = (await client.post(f"{base}/list", json={})).json()["items"]
    assert listed == [created.json()]  # the same uid everywhere
    updated = await client.put(
        f"{base}/s1", json={"configuration": {"summary": {"enabled": False}}}
    )
    assert (await client.get(f"{base}/s1")).json() == updated.json()

    other = await client.post(base, json={"id": "s2"})
    assert other.json()["uid"] != created.json()["uid"]
    assert (await client.delete(f"{base}/s1")).status_code == 202
    gone = await client.get(f"{base}/s1")
    assert gone.status_code == 404
    assert gone.json() == {"detail": "Session s1 not found"}
    absent_ws = await client.get(f"/v3/workspaces/{ws}-none/sessions/s2")
    assert absent_ws.status_code == 404
