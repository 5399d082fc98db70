from __future__ import annotations

import httpx


async def test_peer_get_or_create_applies_body_to_existing(
    client: httpx.AsyncClient, ws: str
) -> None:
    r = await client.post(f"/v3/workspaces/{ws}/peers", json={"id": "alice"})
    assert r.status_code == 201
    body = r.json()
    assert list(body) == ["id", "uid", "workspace_id", "created_at", "metadata", "configuration"]
    assert body["workspace_id"] == ws and body["metadata"] == {} and body["configuration"] == {}

    r = await client.post(
        f"/v3/workspaces/{ws}/peers",
        json={"id": "alice", "metadata": {"k": "v"}, "configuration": {"observe_me": False}},
    )
    assert r.status_code == 200
    assert r.json()["metadata"] == {"k": "v"}
    assert r.json()["configuration"] == {"observe_me": False}
    # a bare get-or-create leaves it alone
    r = await client.post(f"/v3/workspaces/{ws}/peers", json={"id": "alice"})
    assert r.status_code == 200 and r.json()["metadata"] == {"k": "v"}


async def test_peer_update_replaces_configuration(client: httpx.AsyncClient, ws: str) -> None:
    await client.post(
        f"/v3/workspaces/{ws}/peers", json={"id": "bob", "configuration": {"a": 1, "b": 2}}
    )
    r = await client.put(f"/v3/workspaces/{ws}/peers/bob", json={"configuration": {"c": 3}})
    assert r.status_code == 200 and r.json()["configuration"] == {"c": 3}
    r = await client.put(f"/v3/workspaces/{ws}/peers/carol", json={"metadata": {"new": True}})
    assert r.status_code == 200 and r.json()["id"] == "carol"
    bad = await client.put(f"/v3/workspaces/{ws}/peers/no%20spaces", json={})
    assert bad.status_code == 422


async def test_peer_list_pagination_and_filters(client: httpx.AsyncClient, ws: str) -> None:
    for i in range(5):
        await client.post(f"/v3/workspaces/{ws}/peers", json={"id": f"p{i}", "metadata": {"i": i}})
    r = await client.post(f"/v3/workspaces/{ws}/peers/list?size=2&page=3")
    page = r.json()
    assert [p["id"] for p in page["items"]] == ["p4"]
    assert (page["total"], page["pages"], page["page"], page["size"]) == (5, 3, 3, 2)
    beyond = (await client.post(f"/v3/workspaces/{ws}/peers/list?size=2&page=9")).json()
    assert beyond["items"] == [] and beyond["total"] == 5 and beyond["pages"] == 3
    r = await client.post(
        f"/v3/workspaces/{ws}/peers/list",
        json={"filters": {"OR": [{"id": "p0"}, {"metadata": {"i": {"gt": 3}}}]}},
    )
    assert [p["id"] for p in r.json()["items"]] == ["p0", "p4"]
    empty = await client.post("/v3/workspaces/never-created-ws/peers/list", json={})
    assert empty.status_code == 200 and empty.json()["total"] == 0


async def test_sessions_of_peer_include_left_sessions(client: httpx.AsyncClient, ws: str) -> None:
    for s in ("s1", "s2"):
        await client.post(f"/v3/workspaces/{ws}/sessions", json={"id": s, "peers": {"alice": {}}})
    await client.post(f"/v3/workspaces/{ws}/sessions", json={"id": "s3", "peers": {"bob": {}}})
    await client.request("DELETE", f"/v3/workspaces/{ws}/sessions/s2/peers", json=["alice"])
    r = await client.post(f"/v3/workspaces/{ws}/peers/alice/sessions")
    assert [s["id"] for s in r.json()["items"]] == ["s1", "s2"]
    r = await client.post(
        f"/v3/workspaces/{ws}/peers/alice/sessions?reverse=true", json={"filters": {"id": "s1"}}
    )
    assert [s["id"] for s in r.json()["items"]] == ["s1"]
    r = await client.post(f"/v3/workspaces/{ws}/peers/nobody/sessions")
    assert r.json()["items"] == []


async def test_list_kind_scope_and_all_include_the_scopes_peers(
    client: httpx.AsyncClient, ws: str
) -> None:
    """Upstream's ``kind`` on peers/list: each scope is listed as its peer ``scope.<name>``
    (observe_me false, the scope's metadata and creation time) with ``scope`` or ``all``, and
    never by default."""
    url = f"/v3/workspaces/{ws}/peers/list"
    alice = (await client.post(f"/v3/workspaces/{ws}/peers", json={"id": "alice"})).json()
    scope = await client.post(
        f"/v3/workspaces/{ws}/scopes", json={"id": "sc1", "metadata": {"k": 1}}
    )
    assert scope.status_code == 201
    bob = (await client.post(f"/v3/workspaces/{ws}/peers", json={"id": "bob"})).json()

    async def ids(body: dict[str, object], **params: object) -> list[str]:
        r = await client.post(url, json=body, params=params)
        assert r.status_code == 200, r.text
        return [p["id"] for p in r.json()["items"]]

    assert await ids({}) == await ids({"filters": None}) == ["alice", "bob"]
    assert await ids({"kind": "all"}) == ["alice", "scope.sc1", "bob"]
    assert await ids({"kind": "all"}, reverse=True) == ["bob", "scope.sc1", "alice"]
    assert await ids({"kind": "all"}, page=2, size=2) == ["bob"]
    r = await client.post(url, json={"kind": "scope"})
    (peer,) = r.json()["items"]
    assert peer == {
        "id": "scope.sc1",
        "uid": peer["uid"],
        "workspace_id": ws,
        "created_at": scope.json()["created_at"],
        "metadata": {"k": 1},
        "configuration": {"observe_me": False},
    }
    assert r.json()["total"] == 1
    assert peer["uid"] not in (alice["uid"], bob["uid"])
    listed = (await client.post(url, json={"kind": "all"})).json()["items"]
    assert [p["uid"] for p in listed] == [alice["uid"], peer["uid"], bob["uid"]]
    assert await ids({"kind": "all", "filters": {"id": "scope.sc1"}}) == ["scope.sc1"]
    assert await ids({"kind": "all", "filters": {"metadata": {"k": 1}}}) == ["scope.sc1"]
    assert await ids({"kind": "scope", "filters": {"id": "alice"}}) == []
    bad = await client.post(url, json={"kind": "scopes"})
    assert bad.status_code == 422
