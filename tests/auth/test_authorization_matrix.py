"""The authorization matrix: every route of the app by every kind of key (BEHAVIOUR §21.3).

Routes come from ``app.routes``, so a route added later fails ``test_every_route_has_an_example``
until it is given an example request and its expected audience here. For each route, a fresh
workspace A is seeded (peers alice and bob in session s1, carol alone in s2, messages, a
conclusion, a card, a webhook, a scope) and the route is called on A's resources with each key:

* keys that must be refused get a 401 with a ``{"detail": str}`` body and never A's data;
* A's data (read back with an admin key) is unchanged by all refused calls, and by the same
  request made with workspace B's keys on B's own resources (whose answers never carry A's data);
* keys that must be allowed are not refused (and, LLM routes apart, cause no 5xx).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from auth_support import Tenant, seed
from fastapi import FastAPI, routing
from fastapi.routing import APIRoute

from honcho_server.app import create_app
from honcho_server.settings import Settings

Headers = dict[str, str]

# Who may call a route, by key kind. Kinds are relative to the target workspace A: alice is an
# active member of s1, carol is not; "other" kinds belong to workspace B.
ADMIN = frozenset({"admin"})
WS = ADMIN | {"ws_own"}
PEER = WS | {"peer_own"}
SESSION = WS | {"session_own"}
MEMBER = SESSION | {"peer_own"}
CREATE_WORKSPACE = WS | {"peer_own", "peer_nonmember", "session_own", "session_sibling"}
GET_PEER = WS | {"peer_own", "session_own"}  # alice, a member of the session key's s1
GET_SESSION = WS | {"session_own", "peer_own"}  # s1, which the peer key's alice belongs to

KINDS = (
    "none",
    "garbage",
    "wrong_secret",
    "expired",
    "claimless",
    "admin",
    "ws_own",
    "ws_other",
    "peer_own",
    "peer_nonmember",
    "peer_other",
    "session_own",
    "session_sibling",
    "session_other",
)
FIXED_DETAILS = {
    "none": "No access token provided",
    "garbage": "Invalid JWT",
    "wrong_secret": "Invalid JWT",
    "expired": "JWT expired",
}
PUBLIC = {"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
LLM_ROUTES = {
    ("POST", "/v3/workspaces/{workspace_id}/peers/{peer_id}/chat"),
    ("POST", "/v3/workspaces/{workspace_id}/chat"),
}


@dataclass(frozen=True)
class Example:
    allowed: frozenset[str]
    json: Any = None
    query: dict[str, str] = field(default_factory=dict)
    upload: bool = False


W = "/v3/workspaces/{workspace_id}"
P = W + "/peers/{peer_id}"
S = W + "/sessions/{session_id}"
SC = W + "/scopes/{scope_id}"
QUERY = {"query": "tea"}

EXAMPLES: dict[tuple[str, str], Example] = {
    ("GET", "/status"): Example(ADMIN),
    ("POST", "/v3/keys"): Example(ADMIN, query={"workspace_id": "{workspace_id}"}),
    ("POST", "/v3/workspaces"): Example(CREATE_WORKSPACE, {"id": "{workspace_id}"}),
    ("POST", "/v3/workspaces/list"): Example(ADMIN, {}),
    ("PUT", W): Example(WS, {"metadata": {"changed": True}}),
    ("DELETE", W): Example(WS),
    ("POST", W + "/search"): Example(WS, QUERY),
    ("GET", W + "/queue/status"): Example(WS),
    ("POST", W + "/schedule_dream"): Example(WS, {"observer": "alice", "dream_type": "omni"}),
    ("POST", W + "/chat"): Example(WS, {"query": "what does alice like?"}),
    ("POST", W + "/peers/list"): Example(WS, {}),
    ("POST", W + "/peers"): Example(GET_PEER, {"id": "alice"}),
    ("PUT", P): Example(PEER, {"metadata": {"changed": True}}),
    ("POST", P + "/sessions"): Example(PEER, {}),
    ("POST", P + "/chat"): Example(PEER, {"query": "what does bob like?"}),
    ("POST", P + "/representation"): Example(PEER, {}),
    ("GET", P + "/card"): Example(PEER),
    ("PUT", P + "/card"): Example(PEER, {"peer_card": ["changed"]}),
    ("GET", P + "/context"): Example(PEER),
    ("POST", P + "/search"): Example(PEER, QUERY),
    ("POST", W + "/sessions/list"): Example(WS, {}),
    ("POST", W + "/sessions"): Example(GET_SESSION, {"id": "s1"}),
    ("PUT", S): Example(SESSION, {"metadata": {"changed": True}}),
    ("DELETE", S): Example(SESSION),
    ("POST", S + "/clone"): Example(SESSION),
    ("POST", S + "/peers"): Example(SESSION, {"carol": {}}),
    ("PUT", S + "/peers"): Example(SESSION, {"bob": {}}),
    ("DELETE", S + "/peers"): Example(SESSION, ["bob"]),
    ("GET", S + "/peers"): Example(MEMBER),
    ("GET", S + "/peers/{peer_id}/config"): Example(MEMBER),
    ("PUT", S + "/peers/{peer_id}/config"): Example(SESSION, {"observe_me": False}),
    ("GET", S + "/context"): Example(MEMBER),
    ("GET", S + "/summaries"): Example(MEMBER),
    ("POST", S + "/search"): Example(MEMBER, QUERY),
    ("POST", S + "/messages"): Example(
        SESSION, {"messages": [{"peer_id": "alice", "content": "changed"}]}
    ),
    ("POST", S + "/messages/"): Example(
        SESSION, {"messages": [{"peer_id": "alice", "content": "changed"}]}
    ),
    ("POST", S + "/messages/upload"): Example(SESSION, upload=True),
    ("POST", S + "/messages/list"): Example(MEMBER, {}),
    ("GET", S + "/messages/{message_id}"): Example(MEMBER),
    ("PUT", S + "/messages/{message_id}"): Example(SESSION, {"metadata": {"changed": True}}),
    ("POST", W + "/conclusions"): Example(
        WS, {"conclusions": [{"content": "changed", "observer_id": "bob", "observed_id": "alice"}]}
    ),
    ("POST", W + "/conclusions/list"): Example(WS, {}),
    ("POST", W + "/conclusions/query"): Example(WS, QUERY),
    ("GET", W + "/conclusions/{conclusion_id}"): Example(WS),
    ("DELETE", W + "/conclusions/{conclusion_id}"): Example(WS),
    ("POST", W + "/scopes"): Example(WS, {"id": "sc2"}),
    ("POST", W + "/scopes/list"): Example(WS),
    ("GET", SC): Example(WS),
    ("POST", SC + "/sessions"): Example(WS, {"session_ids": ["s2"]}),
    ("POST", SC + "/sessions/list"): Example(WS),
    ("DELETE", SC + "/sessions/{session_id}"): Example(WS),
    ("GET", SC + "/status"): Example(WS),
    ("POST", W + "/webhooks"): Example(WS, {"url": "https://hooks.example.com/changed"}),
    ("GET", W + "/webhooks"): Example(WS),
    ("GET", W + "/webhooks/test"): Example(WS),
    ("DELETE", W + "/webhooks/{endpoint_id}"): Example(WS),
}


def route_keys(app: FastAPI) -> list[tuple[str, str]]:
    """(method, full path template) of every API route, through included routers."""
    keys = []
    for context in routing.iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and context.path:
            keys += [(method, context.path) for method in sorted(context.methods or ())]
    return keys


# Collection needs the routes before any database exists: build (not start) an app for it.
ROUTES = route_keys(create_app(Settings(_env_file=None, database_url="postgresql://collect/x")))


async def snapshot(client: httpx.AsyncClient, tenant: Tenant) -> list[Any]:
    """Everything of the tenant an admin can read (with stable orders)."""
    h = tenant.keys["admin"]
    w = f"/v3/workspaces/{tenant.workspace}"
    reads: list[tuple[str, str, Any]] = [
        ("POST", "/v3/workspaces/list", {"filters": {"id": tenant.workspace}}),
        ("POST", f"{w}/peers/list", {}),
        ("POST", f"{w}/sessions/list", {}),
        ("POST", f"{w}/conclusions/list", {}),
        ("GET", f"{w}/webhooks", None),
        ("POST", f"{w}/scopes/list", None),
        ("POST", f"{w}/scopes/sc1/sessions/list", None),
        ("GET", f"{w}/queue/status", None),
    ]
    for session in ("s1", "s2"):
        reads += [
            ("GET", f"{w}/sessions/{session}/peers", None),
            ("POST", f"{w}/sessions/{session}/messages/list", {}),
        ]
    for peer in ("alice", "bob", "carol"):
        reads.append(("GET", f"{w}/peers/{peer}/card", None))
        reads.append(("GET", f"{w}/sessions/s1/peers/{peer}/config", None))
    out = []
    for method, url, body in reads:
        r = await client.request(method, url, json=body, headers=h)
        out.append((url, r.status_code, r.json()))
    return out


def build(example: Example, tenant: Tenant, method: str, template: str) -> dict[str, Any]:
    """httpx request arguments for ``example`` aimed at ``tenant``'s resources."""
    request: dict[str, Any] = {
        "method": method,
        "url": tenant.path(template),
        "params": {k: v.format(**tenant.ids) for k, v in example.query.items()},
    }
    if example.upload:
        request["files"] = {"file": ("notes.txt", b"an uploaded note", "text/plain")}
        request["data"] = {"peer_id": "alice"}
    elif example.json is not None:
        request["json"] = _fill(example.json, tenant.ids)
    return request


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def test_every_route_has_an_example(auth_app: FastAPI) -> None:
    routes = route_keys(auth_app)
    assert set(routes) == set(ROUTES)
    missing = [r for r in routes if r not in EXAMPLES and r[1] not in PUBLIC]
    assert not missing, f"routes without an example in the authorization matrix: {missing}"
    assert len(routes) > 50
    assert [path for _, path in routes if path in PUBLIC] == ["/health"]


async def test_public_routes_stay_open(auth_client: httpx.AsyncClient) -> None:
    assert (await auth_client.get("/health")).json() == {"status": "ok"}
    assert (await auth_client.get("/openapi.json")).status_code == 200


@pytest.fixture(scope="module")
async def tenant_b(auth_client: httpx.AsyncClient) -> Tenant:
    """The other tenant, whose keys try everything (its own data may change along the way)."""
    b = f"ws-b-{uuid.uuid4().hex[:10]}"
    return await seed(auth_client, b, "never-used")


def _id(key: tuple[str, str]) -> str:
    return f"{key[0]} {key[1]}"


@pytest.mark.parametrize("route", [r for r in ROUTES if r in EXAMPLES], ids=_id)
async def test_route_against_every_key(
    auth_client: httpx.AsyncClient, tenant_b: Tenant, route: tuple[str, str]
) -> None:
    method, template = route
    example = EXAMPLES[route]
    a = await seed(auth_client, f"ws-a-{uuid.uuid4().hex[:10]}", tenant_b.workspace)
    before = await snapshot(auth_client, a)

    refused: Callable[[str], bool] = lambda kind: kind not in example.allowed  # noqa: E731
    for kind in filter(refused, KINDS):
        r = await auth_client.request(**build(example, a, method, template), headers=a.keys[kind])
        assert r.status_code == 401, (kind, r.status_code, r.text)
        detail = r.json()["detail"]
        assert isinstance(detail, str)
        assert detail == FIXED_DETAILS.get(kind, detail), kind
        assert a.marker not in r.text

    # The same request by the other tenant on its own resources never reaches A's data.
    for kind in ("ws_own", "peer_own", "session_own"):
        request = build(example, tenant_b, method, template)
        r = await auth_client.request(**request, headers=tenant_b.keys[kind])
        assert a.marker not in r.text and a.workspace not in r.text, (kind, r.text)

    assert await snapshot(auth_client, a) == before, "a refused request changed A's data"

    for kind in sorted(example.allowed):
        r = await auth_client.request(**build(example, a, method, template), headers=a.keys[kind])
        assert r.status_code != 401, (kind, r.text)
        if route not in LLM_ROUTES:
            assert r.status_code < 500, (kind, r.status_code, r.text)
