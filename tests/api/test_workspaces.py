from __future__ import annotations

import httpx


async def test_get_or_create_returns_201_then_200_unchanged(
    client: httpx.AsyncClient, ws: str
) -> None:
    first = await client.post("/v3/workspaces", json={"id": ws, "metadata": {"a": 1}})
    assert first.status_code == 201
    body = first.json()
    assert list(body) == ["id", "uid", "metadata", "configuration", "created_at"]
    assert body["id"] == ws and body["metadata"] == {"a": 1}
    assert body["created_at"].endswith("Z")

    again = await client.post("/v3/workspaces", json={"id": ws, "metadata": {"b": 2}})
    assert again.status_code == 200
    assert again.json() == body  # existing workspace is returned unchanged


async def test_name_alias_and_null_metadata_rejected(client: httpx.AsyncClient, ws: str) -> None:
    assert (await client.post("/v3/workspaces", json={"name": ws})).status_code == 201
    bad = await client.post("/v3/workspaces", json={"id": ws + "x", "metadata": None})
    assert bad.status_code == 422
    assert isinstance(bad.json()["detail"], list)


async def test_update_replaces_metadata_and_merges_configuration(
    client: httpx.AsyncClient, ws: str
) -> None:
    await client.post(
        "/v3/workspaces",
        json={
            "id": ws,
            "metadata": {"keep": False},
            "configuration": {
                "reasoning": {"enabled": True, "custom_instructions": "x"},
                "summary": {"enabled": True},
                "custom_key": {"anything": [1, 2]},
            },
        },
    )
    r = await client.put(
        f"/v3/workspaces/{ws}",
        json={"metadata": {"new": 1}, "configuration": {"reasoning": {"enabled": False}}},
    )
    assert r.status_code == 200
    assert r.json()["metadata"] == {"new": 1}
    assert r.json()["configuration"] == {
        "reasoning": {"enabled": False},
        "summary": {"enabled": True},
        "custom_key": {"anything": [1, 2]},
    }
    # null means unchanged; {} clears metadata
    r = await client.put(f"/v3/workspaces/{ws}", json={"metadata": None})
    assert r.json()["metadata"] == {"new": 1}
    r = await client.put(f"/v3/workspaces/{ws}", json={"metadata": {}})
    assert r.json()["metadata"] == {}


async def test_update_creates_missing_and_validates_id(client: httpx.AsyncClient, ws: str) -> None:
    r = await client.put(f"/v3/workspaces/{ws}", json={"metadata": {"made": "by put"}})
    assert r.status_code == 200 and r.json()["metadata"] == {"made": "by put"}
    bad = await client.put("/v3/workspaces/bad.id", json={})
    assert bad.status_code == 422
    assert isinstance(bad.json()["detail"], str)


async def test_configuration_validation(client: httpx.AsyncClient, ws: str) -> None:
    bad = await client.post(
        "/v3/workspaces",
        json={
            "id": ws,
            "configuration": {
                "summary": {"messages_per_short_summary": 30, "messages_per_long_summary": 20}
            },
        },
    )
    assert bad.status_code == 422
    too_small = await client.post(
        "/v3/workspaces",
        json={"id": ws, "configuration": {"summary": {"messages_per_short_summary": 5}}},
    )
    assert too_small.status_code == 422
    # unknown keys inside known sections are dropped, null fields are not stored
    ok = await client.post(
        "/v3/workspaces",
        json={
            "id": ws,
            "configuration": {"dream": {"enabled": None, "bogus": 1}, "peer_card": {"use": True}},
        },
    )
    assert ok.status_code == 201
    assert ok.json()["configuration"] == {"dream": {}, "peer_card": {"use": True}}


async def test_list_filters_and_orders(client: httpx.AsyncClient, ws: str) -> None:
    ids = [f"{ws}-{i}" for i in range(3)]
    for i, w in enumerate(ids):
        await client.post("/v3/workspaces", json={"id": w, "metadata": {"group": ws, "i": i}})
    r = await client.post("/v3/workspaces/list", json={"filters": {"metadata": {"group": ws}}})
    assert r.status_code == 200
    page = r.json()
    assert [w["id"] for w in page["items"]] == ids
    assert page["total"] == 3 and page["pages"] == 1 and page["page"] == 1 and page["size"] == 50
    r = await client.post(
        "/v3/workspaces/list?reverse=true&size=2&page=1",
        json={"filters": {"metadata": {"group": ws}}},
    )
    assert [w["id"] for w in r.json()["items"]] == ids[::-1][:2]
    assert r.json()["pages"] == 2
    r = await client.post(
        "/v3/workspaces/list", json={"filters": {"id": ids[1], "metadata": {"i": {"gte": 1}}}}
    )
    assert [w["id"] for w in r.json()["items"]] == [ids[1]]


async def test_get_reads_without_creating_and_404s_when_absent_or_deleted(
    client: httpx.AsyncClient, ws: str
) -> None:
    """GET /v3/workspaces/{id}: beyond upstream, for the Rust SDK's refresh()/get_metadata()."""
    absent = await client.get(f"/v3/workspaces/{ws}")
    assert absent.status_code == 404
    assert absent.json() == {"detail": f"Workspace {ws} not found"}
    created = await client.post("/v3/workspaces", json={"id": ws, "metadata": {"a": 1}})
    assert created.status_code == 201  # the GET created nothing

    got = await client.get(f"/v3/workspaces/{ws}")
    assert got.status_code == 200
    assert got.json() == created.json()
    updated = await client.put(f"/v3/workspaces/{ws}", json={"metadata": {"b": 2}})
    assert (await client.get(f"/v3/workspaces/{ws}")).json() == updated.json()

    assert (await client.delete(f"/v3/workspaces/{ws}")).status_code == 202
    gone = await client.get(f"/v3/workspaces/{ws}")
    assert gone.status_code == 404
    assert gone.json() == {"detail": f"Workspace {ws} not found"}


async def test_uid_is_server_assigned_stable_and_distinct(
    client: httpx.AsyncClient, ws: str
) -> None:
    first = (await client.post("/v3/workspaces", json={"id": ws})).json()
    other = (await client.post("/v3/workspaces", json={"id": ws + "-2"})).json()
    assert isinstance(first["uid"], str) and first["uid"] and first["uid"] != other["uid"]
    assert (await client.post("/v3/workspaces", json={"id": ws})).json()["uid"] == first["uid"]
    assert (await client.get(f"/v3/workspaces/{ws}")).json()["uid"] == first["uid"]
    put = await client.put(f"/v3/workspaces/{ws}", json={"metadata": {"x": 1}})
    assert put.json()["uid"] == first["uid"]
