"""POST /v3/keys (admin only; BEHAVIOUR §21.4) and keys used the moment they are minted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from auth_support import SECRET, bearer, seed

from honcho_server.auth import jwt
from honcho_server.auth.keys import mint

ADMIN = bearer(mint(SECRET, admin=True))


async def test_admin_mints_scoped_keys_that_work_at_once(auth_client: httpx.AsyncClient) -> None:
    a = await seed(auth_client, f"ws-a-{uuid.uuid4().hex[:10]}", "ws-unused")
    r = await auth_client.post(
        "/v3/keys", params={"workspace_id": a.workspace, "peer_id": "alice"}, headers=ADMIN
    )
    assert r.status_code == 200 and list(r.json()) == ["key"]
    key = r.json()["key"]
    claims = jwt.decode(key, SECRET)
    assert claims["w"] == a.workspace and claims["p"] == "alice" and "exp" not in claims
    w = f"/v3/workspaces/{a.workspace}"
    card = await auth_client.get(f"{w}/peers/alice/card", headers=bearer(key))
    assert card.status_code == 200 and card.json()["peer_card"] == [a.marker]
    other = await auth_client.get(f"{w}/peers/bob/card", headers=bearer(key))
    assert other.status_code == 401


async def test_expires_at_is_minted_as_iso_and_enforced(auth_client: httpx.AsyncClient) -> None:
    ws = f"ws-{uuid.uuid4().hex[:10]}"
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    r = await auth_client.post(
        "/v3/keys", params={"workspace_id": ws, "expires_at": soon}, headers=ADMIN
    )
    exp = jwt.decode(r.json()["key"], SECRET)["exp"]
    assert exp.endswith("Z") and datetime.fromisoformat(exp) == datetime.fromisoformat(soon)
    peers = f"/v3/workspaces/{ws}/peers/list"
    assert (await auth_client.post(peers, headers=bearer(r.json()["key"]))).status_code == 200
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    r = await auth_client.post(
        "/v3/keys", params={"workspace_id": ws, "expires_at": past}, headers=ADMIN
    )
    refused = await auth_client.post(peers, headers=bearer(r.json()["key"]))
    assert refused.status_code == 401 and refused.json() == {"detail": "JWT expired"}


async def test_key_requests_are_validated(auth_client: httpx.AsyncClient) -> None:
    r = await auth_client.post("/v3/keys", headers=ADMIN)
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)
    for params in ({"peer_id": "p"}, {"session_id": "s"}, {"peer_id": "p", "session_id": "s"}):
        r = await auth_client.post("/v3/keys", params=params, headers=ADMIN)
        assert r.status_code == 422, params
    r = await auth_client.post("/v3/keys", params={"expires_at": "soon"}, headers=ADMIN)
    assert r.status_code == 422


async def test_only_admins_mint_keys(auth_client: httpx.AsyncClient) -> None:
    ws_key = bearer(mint(SECRET, workspace="w1"))
    r = await auth_client.post("/v3/keys", params={"workspace_id": "w1"}, headers=ws_key)
    assert r.status_code == 401 and r.json() == {"detail": "Resource requires admin privileges"}
    r = await auth_client.post("/v3/keys", params={"workspace_id": "w1"})
    assert r.status_code == 401 and r.json() == {"detail": "No access token provided"}


async def test_with_auth_off_keys_are_disabled_and_every_route_is_open(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post("/v3/keys", params={"workspace_id": "w1"})
    assert r.status_code == 405 and r.json() == {"detail": "Feature is disabled"}
    assert (await client.post("/v3/workspaces/list", json={})).status_code == 200
    assert (await client.get("/status")).status_code == 200
    # A key is not needed, and a bad one is not even looked at.
    r = await client.get("/status", headers={"Authorization": "Bearer garbage"})
    assert r.status_code == 200
