"""What the route guard cannot see: bodies and query options (BEHAVIOUR §21.3, quirk 8)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from auth_support import SECRET, Tenant, bearer, seed
from fastapi import FastAPI

from honcho_server.auth import checks
from honcho_server.auth.keys import Principal, mint, verify
from honcho_server.errors import Unauthorized


@pytest.fixture
async def a(auth_client: httpx.AsyncClient) -> Tenant:
    return await seed(auth_client, f"ws-a-{uuid.uuid4().hex[:10]}", "ws-unused")


def url(t: Tenant, rest: str) -> str:
    return f"/v3/workspaces/{t.workspace}{rest}"


async def test_peer_keys_cannot_create_or_modify_sessions(
    auth_client: httpx.AsyncClient, a: Tenant
) -> None:
    peer = a.keys["peer_own"]  # alice, a member of s1
    post = url(a, "/sessions")
    # Reading a session it belongs to is fine (the SDK's honcho.session() does this)...
    r = await auth_client.post(post, json={"id": "s1"}, headers=peer)
    assert r.status_code == 200 and r.json()["id"] == "s1"
    # ...creating one, changing one, or adding members is not.
    for body in (
        {"id": "brand-new"},
        {"id": "s1", "metadata": {"taken": True}},
        {"id": "s1", "configuration": {"reasoning": {"enabled": False}}},
        {"id": "s1", "peers": {"alice": {}, "carol": {}}},
        {"id": "s2"},  # not a member
    ):
        r = await auth_client.post(post, json=body, headers=peer)
        assert r.status_code == 401, body
    sessions = await auth_client.post(url(a, "/sessions/list"), json={}, headers=a.keys["admin"])
    assert {s["id"] for s in sessions.json()["items"]} == {"s1", "s2"}
    peers = await auth_client.get(url(a, "/sessions/s1/peers"), headers=a.keys["admin"])
    assert {p["id"] for p in peers.json()["items"]} == {"alice", "bob"}


async def test_session_keys_cannot_create_or_modify_peers(
    auth_client: httpx.AsyncClient, a: Tenant
) -> None:
    session = a.keys["session_own"]  # s1: alice and bob
    post = url(a, "/peers")
    assert (await auth_client.post(post, json={"id": "bob"}, headers=session)).status_code == 200
    for body in ({"id": "zed"}, {"id": "carol"}, {"id": "bob", "metadata": {"x": 1}}):
        assert (await auth_client.post(post, json=body, headers=session)).status_code == 401
    bob = await auth_client.post(post, json={"id": "bob"}, headers=a.keys["admin"])
    assert bob.json()["metadata"] == {"m": a.marker}


async def test_narrow_keys_on_their_own_resource(auth_client: httpx.AsyncClient, a: Tenant) -> None:
    # A peer key may update its own peer through get-or-create, not another.
    own = {"id": "alice", "metadata": {"mine": True}}
    r = await auth_client.post(url(a, "/peers"), json=own, headers=a.keys["peer_own"])
    assert r.status_code == 200 and r.json()["metadata"] == {"mine": True}
    bob = {"id": "bob", "metadata": {"mine": True}}
    r = await auth_client.post(url(a, "/peers"), json=bob, headers=a.keys["peer_own"])
    assert r.status_code == 401
    # A session key may create its own session, but not attach it to scopes.
    key = bearer(mint(SECRET, workspace=a.workspace, session="s9"))
    r = await auth_client.post(url(a, "/sessions"), json={"id": "s9"}, headers=key)
    assert r.status_code == 201
    r = await auth_client.post(
        url(a, "/sessions"), json={"id": "s9", "scopes": ["sc1"]}, headers=key
    )
    assert r.status_code == 401
    r = await auth_client.post(url(a, "/sessions"), json={"id": "s1"}, headers=key)
    assert r.status_code == 401
    ws = a.keys["ws_own"]
    r = await auth_client.post(
        url(a, "/sessions"), json={"id": "s9", "scopes": ["sc1"]}, headers=ws
    )
    assert r.status_code == 200


async def test_claimless_and_other_workspace_keys_create_nothing(
    auth_client: httpx.AsyncClient, a: Tenant
) -> None:
    for key in ("claimless", "ws_other", "peer_other", "session_other"):
        h = a.keys[key]
        assert (
            await auth_client.post(url(a, "/peers"), json={"id": "x"}, headers=h)
        ).status_code == 401
        r = await auth_client.post(url(a, "/sessions"), json={"id": "x"}, headers=h)
        assert r.status_code == 401
    other = f"ws-new-{uuid.uuid4().hex[:8]}"
    for key in ("claimless", "ws_own", "peer_own"):
        r = await auth_client.post("/v3/workspaces", json={"id": other}, headers=a.keys[key])
        assert r.status_code == 401, key
    r = await auth_client.post("/v3/workspaces", json={"id": other}, headers=a.keys["admin"])
    assert r.status_code == 201


async def test_member_access_ends_when_the_peer_leaves(
    auth_client: httpx.AsyncClient, a: Tenant
) -> None:
    peer = a.keys["peer_own"]
    messages = url(a, "/sessions/s1/messages/list")
    r = await auth_client.post(messages, json={}, headers=peer)
    assert r.status_code == 200 and len(r.json()["items"]) == 2
    # Its own config in the session, but not another member's.
    own = await auth_client.get(url(a, "/sessions/s1/peers/alice/config"), headers=peer)
    assert own.status_code == 200
    other = await auth_client.get(url(a, "/sessions/s1/peers/bob/config"), headers=peer)
    assert other.status_code == 401
    removed = await auth_client.request(
        "DELETE", url(a, "/sessions/s1/peers"), json=["alice"], headers=a.keys["ws_own"]
    )
    assert removed.status_code == 200
    assert (await auth_client.post(messages, json={}, headers=peer)).status_code == 401
    assert (
        await auth_client.get(url(a, "/sessions/s1/summaries"), headers=peer)
    ).status_code == 401


async def test_session_context_perspective_belongs_to_the_peer_key(
    auth_client: httpx.AsyncClient, a: Tenant
) -> None:
    peer = a.keys["peer_own"]
    context = url(a, "/sessions/s1/context")

    async def status(params: dict[str, str], headers: dict[str, str] = peer) -> int:
        return (await auth_client.get(context, params=params, headers=headers)).status_code

    assert await status({}) == 200
    assert await status({"peer_target": "alice"}) == 200
    assert await status({"peer_target": "bob", "peer_perspective": "alice"}) == 200
    assert await status({"peer_target": "bob"}) == 401  # bob's own view
    assert await status({"peer_target": "alice", "peer_perspective": "bob"}) == 401
    assert await status({"peer_target": "bob", "scope": "sc1"}) == 401
    assert await status({"peer_target": "bob", "scope": "sc1"}, a.keys["ws_own"]) == 200
    # A session allowlist reaches only sessions the key's peer is an active member of.
    allow = {"peer_target": "bob", "peer_perspective": "alice"}
    assert await status({**allow, "sessions": "s1"}) == 200
    many = [("peer_target", "bob"), ("peer_perspective", "alice")]
    many += [("sessions", "s1"), ("sessions", "s2")]
    r = await auth_client.get(context, params=many, headers=peer)
    assert r.status_code == 401
    r = await auth_client.get(context, params=many, headers=a.keys["session_own"])
    assert r.status_code == 401
    r = await auth_client.get(context, params=many, headers=a.keys["ws_own"])
    assert r.status_code == 200


async def test_scope_options_need_a_workspace_key(
    auth_client: httpx.AsyncClient, a: Tenant
) -> None:
    peer, ws = a.keys["peer_own"], a.keys["ws_own"]
    search = {"query": "tea", "scope": "sc1"}
    for path in ("/peers/alice/search", "/sessions/s1/search"):
        assert (await auth_client.post(url(a, path), json=search, headers=peer)).status_code == 401
        assert (await auth_client.post(url(a, path), json=search, headers=ws)).status_code == 200
    rep = url(a, "/peers/alice/representation")
    assert (await auth_client.post(rep, json={"scope": "sc1"}, headers=peer)).status_code == 401
    assert (await auth_client.post(rep, json={"scope": "sc1"}, headers=ws)).status_code == 200
    assert (await auth_client.post(rep, json={}, headers=peer)).status_code == 200


async def test_chat_access_for_narrow_keys(auth_app: FastAPI, a: Tenant) -> None:
    """What the chat route calls after its own request checks."""
    factory = auth_app.state.session_factory
    alice = verify(mint(SECRET, workspace=a.workspace, peer="alice"), SECRET)
    carol = verify(mint(SECRET, workspace=a.workspace, peer="carol"), SECRET)
    ws = verify(mint(SECRET, workspace=a.workspace), SECRET)

    async def allowed(
        who: Principal, session: str | None, allow: list[str] | None, scoped: bool
    ) -> bool:
        try:
            await checks.require_chat_access(
                factory, who, a.workspace, session=session, allowlist=allow, scoped=scoped
            )
        except Unauthorized:
            return False
        return True

    assert await allowed(alice, None, None, False)
    assert await allowed(alice, "s1", ["s1"], False)
    assert not await allowed(alice, "s2", None, False)
    assert not await allowed(alice, None, ["s1", "s2"], False)
    assert not await allowed(alice, None, None, True)
    assert await allowed(carol, "s2", None, False)
    assert not await allowed(carol, "s1", None, False)
    assert await allowed(ws, "s1", ["s1", "s2"], True)


async def test_chat_route_applies_the_narrow_key_checks(
    auth_client: httpx.AsyncClient, a: Tenant
) -> None:
    """Through HTTP: a peer key cannot point chat at a session it is not in, nor at scopes.
    (No LLM is configured here: a request that passes every check ends in 503.)"""
    alice = a.keys["peer_own"]  # a member of s1, not of s2
    chat = url(a, "/peers/alice/chat")
    refused = (
        {"query": "what does bob like?", "session_id": "s2"},
        {"query": "what does bob like?", "filters": {"session_id": ["s1", "s2"]}},
        {"query": "what does bob like?", "scope": "sc1"},
    )
    for body in refused:
        r = await auth_client.post(chat, json=body, headers=alice)
        assert r.status_code == 401, body
        assert "marker" not in r.text
    for body in ({"query": "what does bob like?", "session_id": "s1"}, {"query": "hi"}):
        r = await auth_client.post(chat, json=body, headers=alice)
        assert r.status_code == 503, (body, r.text)
    ws = a.keys["ws_own"]
    r = await auth_client.post(chat, json={"query": "hi", "scope": "sc1"}, headers=ws)
    assert r.status_code == 503
