"""Peer cards over HTTP: per (observer, target) storage, implicit observer creation, limits."""

from __future__ import annotations

from typing import Any

import httpx


def _url(ws: str, peer: str, target: str | None = None) -> str:
    base = f"/v3/workspaces/{ws}/peers/{peer}/card"
    return base if target is None else f"{base}?target={target}"


async def _put(client: httpx.AsyncClient, url: str, card: Any) -> httpx.Response:
    return await client.put(url, json={"peer_card": card})


async def test_get_card_of_unknown_peer_is_404(client: httpx.AsyncClient, ws: str) -> None:
    r = await client.get(_url(ws, "ghost"))
    assert r.status_code == 404 and isinstance(r.json()["detail"], str)
    r = await client.get(_url(ws, "ghost", "alice"))
    assert r.status_code == 404


async def test_existing_peer_without_card_reads_null(client: httpx.AsyncClient, ws: str) -> None:
    await client.post(f"/v3/workspaces/{ws}/peers", json={"id": "alice"})
    r = await client.get(_url(ws, "alice"))
    assert r.status_code == 200 and r.json() == {"peer_card": None}
    # the target need not exist
    r = await client.get(_url(ws, "alice", "nobody"))
    assert r.status_code == 200 and r.json() == {"peer_card": None}


async def test_set_card_creates_observer_and_workspace(client: httpx.AsyncClient, ws: str) -> None:
    r = await _put(client, _url(ws, "alice"), ["IDENTITY: Alice", "likes\x00 tea"])
    assert r.status_code == 200
    assert r.json() == {"peer_card": ["IDENTITY: Alice", "likes tea"]}
    assert (await client.get(_url(ws, "alice"))).json() == r.json()
    # the peer (and its workspace) now exist
    r = await client.post(f"/v3/workspaces/{ws}/peers", json={"id": "alice"})
    assert r.status_code == 200
    r = await client.post("/v3/workspaces", json={"id": ws})
    assert r.status_code == 200


async def test_cards_are_kept_per_target(client: httpx.AsyncClient, ws: str) -> None:
    await _put(client, _url(ws, "alice"), ["self"])
    await _put(client, _url(ws, "alice", "bob"), ["alice about bob"])
    await _put(client, _url(ws, "bob"), ["bob self"])
    assert (await client.get(_url(ws, "alice"))).json() == {"peer_card": ["self"]}
    assert (await client.get(_url(ws, "alice", "bob"))).json() == {"peer_card": ["alice about bob"]}
    assert (await client.get(_url(ws, "bob"))).json() == {"peer_card": ["bob self"]}
    assert (await client.get(_url(ws, "bob", "alice"))).json() == {"peer_card": None}
    # target = self is the peer's own card; an empty target means no target
    assert (await client.get(_url(ws, "alice", "alice"))).json() == {"peer_card": ["self"]}
    assert (await client.get(_url(ws, "alice", ""))).json() == {"peer_card": ["self"]}


async def test_set_card_replaces_the_whole_card(client: httpx.AsyncClient, ws: str) -> None:
    url = _url(ws, "alice", "bob")
    await _put(client, url, ["a", "b", "c"])
    r = await _put(client, url, ["d"])
    assert r.json() == {"peer_card": ["d"]}
    assert (await client.get(url)).json() == {"peer_card": ["d"]}
    r = await _put(client, url, [])
    assert r.status_code == 200 and r.json() == {"peer_card": []}
    assert (await client.get(url)).json() == {"peer_card": []}


async def test_set_card_validation(client: httpx.AsyncClient, ws: str) -> None:
    url = _url(ws, "alice")
    for body in (
        {},
        {"peer_card": None},
        {"peer_card": "not a list"},
        {"peer_card": [1, 2]},
        {"peer_card": ["x" * 2_001]},
    ):
        r = await client.put(url, json=body)
        assert r.status_code == 422, body if len(str(body)) < 200 else r.text
    assert (await client.get(url)).status_code == 404  # nothing was created
    # the entry limit itself is accepted (NUL bytes do not count)
    r = await _put(client, url, [f"e{i}" for i in range(99)] + ["x" * 2_000 + "\x00"])
    assert r.status_code == 200 and len(r.json()["peer_card"]) == 100
    assert r.json()["peer_card"][-1] == "x" * 2_000


async def test_set_card_has_no_entry_count_limit(client: httpx.AsyncClient, ws: str) -> None:
    """As upstream: any number of entries (the request body limit is the only bound)."""
    url = _url(ws, "alice", "bob")
    card = [f"ATTRIBUTE: fact number {i}" for i in range(500)]
    r = await _put(client, url, card)
    assert r.status_code == 200 and r.json() == {"peer_card": card}
    assert (await client.get(url)).json() == {"peer_card": card}
    big = [f"{i}: " + "y" * 1_990 for i in range(5_000)]  # ~10 MB, far inside the body limit
    r = await _put(client, url, big)
    assert r.status_code == 200 and len(r.json()["peer_card"]) == 5_000
    assert (await client.get(url)).json()["peer_card"] == big
    spec = (await client.get("/openapi.json")).json()
    assert "maxItems" not in spec["components"]["schemas"]["PeerCardSet"]["properties"]["peer_card"]


async def test_set_card_rejects_invalid_names(client: httpx.AsyncClient, ws: str) -> None:
    r = await _put(client, _url(ws, "bad.name"), ["x"])
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)
    r = await _put(client, _url("bad.ws", "alice"), ["x"])
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)
    r = await _put(client, _url(ws, "x" * 513), ["x"])
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)
