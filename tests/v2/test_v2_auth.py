"""The same keys and rules on /v2 as on /v3: each v2 route runs its v3 twin with the caller's
key, so a key refused by v3 is refused by v2, with the same 401 body, and changes nothing.

Every operation of the contract (``EXAMPLES``) is called on workspace A's resources with a key
of workspace B, with no key and with a bad key; a peer key reaches its own peer's v2 routes and
not another peer's.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import routing
from fastapi.routing import APIRoute
from spec_v2 import Operation
from test_v2_contract import EXAMPLES, OPERATIONS, Ctx, seed
from v2_support import SECRET

from fakes.openai_server import FakeOpenAIServer
from honcho_server.api.v2.guard import twin
from honcho_server.app import create_app
from honcho_server.auth.keys import mint
from honcho_server.settings import Settings

PUBLIC = {("GET", "/metrics")}


def snapshot(admin: httpx.Client, ws: str) -> list[Any]:
    w = f"/v3/workspaces/{ws}"
    reads = [
        admin.post("/v3/workspaces/list", json={"filters": {"id": ws}}),
        admin.post(f"{w}/peers/list", json={}),
        admin.post(f"{w}/sessions/list", json={}),
        admin.post(f"{w}/sessions/s1/messages/list", json={}),
        admin.post(f"{w}/conclusions/list", json={}),
        admin.get(f"{w}/peers/alice/card"),
        admin.get(f"{w}/webhooks"),
    ]
    return [r.json() for r in reads]


@pytest.mark.parametrize(
    "operation",
    [op for op in OPERATIONS if op.key not in PUBLIC],
    ids=lambda op: f"{op.method} {op.path}",
)
def test_foreign_missing_and_bad_keys_are_refused(
    operation: Operation, admin: httpx.Client, v2_server: str, chat_llm: FakeOpenAIServer
) -> None:
    tenant = seed(admin)
    before = snapshot(admin, tenant.ws)
    other = seed(admin)
    keys = {
        "other workspace": mint(SECRET, workspace=other.ws),
        "other workspace's peer": mint(SECRET, workspace=other.ws, peer="alice"),
        "bad signature": mint("not-the-secret-" + "y" * 32, admin=True),
        "none": None,
    }
    for kind, key in keys.items():
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        with httpx.Client(base_url=v2_server, headers=headers, timeout=60) as client:
            ctx = Ctx(client, tenant.ws, tenant.message_id, tenant.conclusion_id, tenant.webhook_id)
            response = EXAMPLES[operation.key](ctx)
        assert response.status_code == 401, (kind, response.status_code, response.text)
        assert isinstance(response.json()["detail"], str), kind
    assert snapshot(admin, tenant.ws) == before


def test_a_peer_key_reaches_its_own_peer_only(admin: httpx.Client, v2_server: str) -> None:
    ctx = seed(admin)
    key = mint(SECRET, workspace=ctx.ws, peer="alice")
    w = f"/v2/workspaces/{ctx.ws}"
    with httpx.Client(
        base_url=v2_server, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as alice:
        assert alice.get(f"{w}/peers/alice/card").status_code == 200
        mine = alice.post(f"{w}/peers/alice/representation", json={})
        assert mine.status_code == 200, mine.text
        assert mine.json()["explicit"][0]["content"] == "alice loves hiking"
        assert alice.get(f"{w}/peers/bob/card").status_code == 401
        assert alice.post(f"{w}/peers/bob/representation", json={}).status_code == 401
        assert alice.get(f"{w}/deriver/status").status_code in (200, 401)
        # a member's read of its session, as on v3
        listed = alice.post(f"{w}/sessions/s1/messages/list", json={})
        assert listed.status_code == 200 and listed.json()["total"] == 2
        # creating a workspace with a peer key: refused by v3's handler, so by v2
        assert alice.post("/v2/workspaces", json={"id": "elsewhere"}).status_code == 401


def _route_keys() -> set[tuple[str, str]]:
    app = create_app(Settings(_env_file=None, database_url="postgresql://collect/x"))
    return {
        (method, context.path)
        for context in routing.iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        for method in context.methods or ()
    }


def test_every_v2_route_has_the_v3_twin_its_early_refusal_reads() -> None:
    keys = _route_keys()
    v2 = {(m, p) for m, p in keys if p.startswith("/v2/") and p != "/v2/openapi.json"}
    assert len(v2) == 45
    for method, path in v2:
        twin_method, template = twin(method, path.removeprefix("/v2"))
        assert (twin_method, "/v3" + template) in keys, (method, path)


# Bad input from a key without reach: refused (401) before v2 looks at the input, as v3 does.
OUT_OF_REACH: list[tuple[str, str, Any, dict[str, Any] | None]] = [
    ("POST", "/sessions/s1/messages/", {"messages": []}, None),
    ("POST", "/observations", {"observations": [{"content": "c"}]}, None),
    ("POST", "/trigger_dream", {"observer": "alice", "dream_type": "omni"}, None),
    ("GET", "/sessions/s1/context", None, {"tokens": -1}),
    ("POST", "/peers/alice/representation", {"search_top_k": 0}, None),
    ("POST", "/sessions/s1/peers/alice/config", {"observe_me": "maybe"}, None),
    ("GET", "/sessions/s1/clone", None, None),
]


@pytest.mark.parametrize(("method", "path", "body", "params"), OUT_OF_REACH)
def test_a_key_without_reach_is_refused_before_validation(
    admin: httpx.Client,
    v2_server: str,
    method: str,
    path: str,
    body: Any,
    params: dict[str, Any] | None,
) -> None:
    ctx = seed(admin)
    keys = [mint(SECRET, workspace="elsewhere"), mint(SECRET, workspace=ctx.ws, peer="carol")]
    for key in keys:
        headers = {"Authorization": f"Bearer {key}"}
        url = f"{v2_server}/v2/workspaces/{ctx.ws}{path}"
        response = httpx.request(method, url, json=body, params=params, headers=headers)
        assert response.status_code == 401, (key, response.text)
        assert isinstance(response.json()["detail"], str)
