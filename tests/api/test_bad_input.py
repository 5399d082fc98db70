"""Bad input gets a clear 4xx with Honcho's error body and leaves stored data unchanged."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


async def _snapshot(client: httpx.AsyncClient, ws: str) -> dict[str, Any]:
    msgs = (await client.post(f"/v3/workspaces/{ws}/sessions/s/messages/list?size=100")).json()
    peers = (await client.post(f"/v3/workspaces/{ws}/peers/list?size=100")).json()
    sessions = (await client.post(f"/v3/workspaces/{ws}/sessions/list?size=100")).json()
    return {"messages": msgs, "peers": peers, "sessions": sessions}


@pytest.fixture
async def seeded(client: httpx.AsyncClient, ws: str) -> dict[str, Any]:
    r = await client.post(
        f"/v3/workspaces/{ws}/sessions/s/messages",
        json={"messages": [{"peer_id": "alice", "content": "kept"}]},
    )
    assert r.status_code == 201
    return await _snapshot(client, ws)


BAD_MESSAGE_BODIES = [
    pytest.param({"messages": [{"peer_id": "alice", "content": "x"}] * 101}, id="101-messages"),
    pytest.param({"messages": []}, id="no-messages"),
    pytest.param({"messages": [{"peer_id": "alice", "content": "x" * 25_001}]}, id="25001-chars"),
    pytest.param({"messages": [{"peer_id": "alice"}]}, id="no-content"),
    pytest.param(
        {"messages": [{"peer_id": "alice", "content": "x", "created_at": "yesterday"}]},
        id="bad-date",
    ),
    pytest.param(
        {
            "messages": [
                {"peer_id": "alice", "content": "x", "metadata": {str(i): i for i in range(101)}}
            ]
        },
        id="101-metadata-keys",
    ),
    pytest.param(
        {
            "messages": [
                {
                    "peer_id": "alice",
                    "content": "x",
                    "metadata": {"a": {"b": {"c": {"d": {"e": {}}}}}},
                }
            ]
        },
        id="metadata-too-deep",
    ),
]


@pytest.mark.parametrize("body", BAD_MESSAGE_BODIES)
async def test_bad_message_batches_are_422_and_change_nothing(
    client: httpx.AsyncClient, ws: str, seeded: dict[str, Any], body: dict[str, Any]
) -> None:
    r = await client.post(f"/v3/workspaces/{ws}/sessions/s/messages", json=body)
    assert r.status_code == 422
    assert isinstance(r.json()["detail"], list)
    assert await _snapshot(client, ws) == seeded


async def test_exactly_limits_are_accepted(client: httpx.AsyncClient, ws: str) -> None:
    r = await client.post(
        f"/v3/workspaces/{ws}/sessions/s/messages",
        json={
            "messages": [{"peer_id": "a", "content": "y" * 25_000}]
            + [{"peer_id": "a", "content": "z"}] * 99
        },
    )
    assert r.status_code == 201 and len(r.json()) == 100
    deep = {"a": {"b": {"c": {"d": {}}}}}
    r = await client.post(f"/v3/workspaces/{ws}/peers", json={"id": "p", "metadata": deep})
    assert r.status_code == 201


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/v3/workspaces/{ws}/sessions/s/messages",
            {"messages": [{"peer_id": "bad id", "content": "x"}]},
        ),
        (
            "/v3/workspaces/{ws}/sessions/bad.session/messages",
            {"messages": [{"peer_id": "a", "content": "x"}]},
        ),
        ("/v3/workspaces/{ws}/sessions/s/peers", {"not valid!": {}}),
        ("/v3/workspaces/{ws}/sessions", {"id": "s", "peers": {"x" * 513: {}}}),
    ],
)
async def test_invalid_implicit_ids_are_422(
    client: httpx.AsyncClient, ws: str, seeded: dict[str, Any], path: str, body: Any
) -> None:
    r = await client.post(path.format(ws=ws), json=body)
    assert r.status_code == 422, r.text
    assert isinstance(r.json()["detail"], str)
    assert await _snapshot(client, ws) == seeded


@pytest.mark.parametrize(
    "filters",
    [
        {"nope": 1},
        {"peer_id": {"bogus_op": 1}},
        {"created_at": {"gte": "not a date"}},
        {"token_count": "many"},
        {"AND": {"peer_id": "a"}},
        {"NOT": None},
        {"metadata": 5},
        {"peer_id": {"gt": None}},
        {"AND": [{"AND": [{"AND": [{"AND": [{"AND": [{"AND": [{"peer_id": "a"}]}]}]}]}]}]},
    ],
)
async def test_invalid_filters_are_422(
    client: httpx.AsyncClient, ws: str, seeded: dict[str, Any], filters: dict[str, Any]
) -> None:
    r = await client.post(
        f"/v3/workspaces/{ws}/sessions/s/messages/list", json={"filters": filters}
    )
    assert r.status_code == 422, r.text
    assert isinstance(r.json()["detail"], str)


@pytest.mark.parametrize("query", ["size=101", "size=0", "page=0", "page=x"])
async def test_bad_paging_is_422(client: httpx.AsyncClient, ws: str, query: str) -> None:
    r = await client.post(f"/v3/workspaces/{ws}/peers/list?{query}")
    assert r.status_code == 422


async def test_malformed_json_is_422(
    client: httpx.AsyncClient, ws: str, seeded: dict[str, Any]
) -> None:
    r = await client.post(
        f"/v3/workspaces/{ws}/sessions/s/messages",
        content=b'{"messages": [{"peer_id": "alice", "content": "x"',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    assert await _snapshot(client, ws) == seeded


async def test_nul_in_path_is_4xx_not_500(client: httpx.AsyncClient, ws: str) -> None:
    r = await client.get(f"/v3/workspaces/{ws}/sessions/s/messages/a%00b")
    assert 400 <= r.status_code < 500


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    r = await client.get("/v3/nothing-here")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
    r = await client.patch("/v3/workspaces/list")
    assert r.status_code == 405 and r.json() == {"detail": "Method Not Allowed"}


async def test_health(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
