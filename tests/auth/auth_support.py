"""Shared by the auth tests: the test app's signing secret, keys, and a seeded workspace."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from honcho_server.auth.keys import mint

Headers = dict[str, str]

SECRET = "auth-tests-secret-7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e"


@dataclass
class Tenant:
    """A seeded workspace: its ids, a marker string inside its data, and its keys.

    ``secret`` is inside the data only carol (not in s1) and session s2 reach: carol's own card
    and conclusions, s2's metadata and its message. The ``peer_own`` (alice) and
    ``session_own`` (s1) keys must never see it.
    """

    workspace: str
    marker: str
    secret: str
    ids: dict[str, str]
    keys: dict[str, Headers]

    def path(self, template: str) -> str:
        return template.format(**self.ids)


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


def keys_for(a: str, b: str) -> dict[str, Headers]:
    past = datetime.now(UTC) - timedelta(minutes=1)
    return {
        "none": {},
        "garbage": {"Authorization": "Bearer not.a.jwt"},
        "wrong_secret": bearer(mint("some-other-secret-that-is-long-enough-123", admin=True)),
        "expired": bearer(mint(SECRET, workspace=a, expires_at=past)),
        "claimless": bearer(mint(SECRET)),
        "admin": bearer(mint(SECRET, admin=True)),
        "ws_own": bearer(mint(SECRET, workspace=a)),
        "ws_other": bearer(mint(SECRET, workspace=b)),
        "peer_own": bearer(mint(SECRET, workspace=a, peer="alice")),
        "peer_nonmember": bearer(mint(SECRET, workspace=a, peer="carol")),
        "peer_other": bearer(mint(SECRET, workspace=b, peer="alice")),
        "session_own": bearer(mint(SECRET, workspace=a, session="s1")),
        "session_sibling": bearer(mint(SECRET, workspace=a, session="s2")),
        "session_other": bearer(mint(SECRET, workspace=b, session="s1")),
    }


async def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, (response.request.url, response.text)
    return response.json() if response.content else None


async def seed(client: httpx.AsyncClient, workspace: str, other: str) -> Tenant:
    marker = f"marker-{uuid.uuid4().hex}"
    secret = f"secret-{uuid.uuid4().hex}"
    keys = keys_for(workspace, other)
    h = keys["admin"]
    w = f"/v3/workspaces/{workspace}"
    meta = {"metadata": {"m": marker}}
    await ok(await client.post("/v3/workspaces", json={"id": workspace, **meta}, headers=h))
    for peer in ("alice", "bob", "carol"):
        await ok(await client.post(f"{w}/peers", json={"id": peer, **meta}, headers=h))
    s1 = {"id": "s1", "peers": {"alice": {}, "bob": {}}, **meta}
    await ok(await client.post(f"{w}/sessions", json=s1, headers=h))
    s2 = {"id": "s2", "peers": {"carol": {}}, "metadata": {"m": secret}}
    await ok(await client.post(f"{w}/sessions", json=s2, headers=h))
    said = [{"peer_id": "carol", "content": f"{secret} carol plays chess"}]
    in_s2 = await ok(
        await client.post(f"{w}/sessions/s2/messages", json={"messages": said}, headers=h)
    )
    about_carol = {
        "content": f"{secret} carol plays chess",
        "observer_id": "carol",
        "observed_id": "carol",
        "session_id": "s2",
    }
    await ok(await client.post(f"{w}/conclusions", json={"conclusions": [about_carol]}, headers=h))
    await ok(await client.put(f"{w}/peers/carol/card", json={"peer_card": [secret]}, headers=h))
    messages = [
        {"peer_id": "alice", "content": f"{marker} alice likes tea"},
        {"peer_id": "bob", "content": f"{marker} bob likes coffee"},
    ]
    created = await ok(
        await client.post(f"{w}/sessions/s1/messages", json={"messages": messages}, headers=h)
    )
    conclusion = {
        "content": f"{marker} bob likes coffee",
        "observer_id": "alice",
        "observed_id": "bob",
    }
    conclusions = await ok(
        await client.post(f"{w}/conclusions", json={"conclusions": [conclusion]}, headers=h)
    )
    await ok(await client.put(f"{w}/peers/alice/card", json={"peer_card": [marker]}, headers=h))
    url = f"https://hooks.example.com/{marker}"
    webhook = await ok(await client.post(f"{w}/webhooks", json={"url": url}, headers=h))
    await ok(await client.post(f"{w}/scopes", json={"id": "sc1"}, headers=h))
    await ok(await client.post(f"{w}/scopes/sc1/sessions", json={"session_ids": ["s1"]}, headers=h))
    ids = {
        "workspace_id": workspace,
        "peer_id": "alice",
        "session_id": "s1",
        "message_id": created[0]["id"],
        "conclusion_id": conclusions[0]["id"],
        "endpoint_id": webhook["id"],
        "scope_id": "sc1",
        "s2_message_id": in_s2[0]["id"],
        "other_workspace": other,
    }
    return Tenant(workspace, marker, secret, ids, keys)
