"""The authorization matrix: every route of the app by every kind of key (BEHAVIOUR §21.3).

Routes come from ``app.routes``, so a route added later fails ``test_every_route_has_an_example``
until it is given an example request and its expected audience here. For each route, a fresh
workspace A is seeded (peers alice and bob in session s1, carol alone in s2, messages, a
conclusion, a card, a webhook, a scope) and the route is called on A's resources with each key:

* keys that must be refused get a 401 with a ``{"detail": str}`` body and never A's data;
* A's data (read back with an admin key) is unchanged by all refused calls, and by the same
  request made with workspace B's keys on B's own resources (whose answers never carry A's data);
* keys that must be allowed are not refused (and, LLM routes apart, cause no 5xx).

Then every option that names another object (query and path parameters, body fields at any
depth, map keys, hidden options included) is derived from the served OpenAPI document and the
routes themselves, and must have an entry in ``PROBES``: requests naming objects out of some
keys' reach (carol, who is not in s1; session s2; scope sc1), each run with all 14 kinds of
key, and no key without reach may see the tenant's ``secret`` (carol's card and conclusions,
s2's metadata and message). A new object-naming option fails until it is probed.
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
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import TypeAdapter

from honcho_server.app import create_app
from honcho_server.auth import policy
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
PUBLIC = {
    "/health",
    "/ready",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/redoc/logo-mini.svg",  # ReDoc's script asks for it beside the page
}
# liveness, readiness and Prometheus metrics (no tenant data; METRICS_ENABLED=false hides it)
OPEN_ROUTES = {"/health", "/ready", "/metrics"}
# Served outside the REST guard: /mcp refuses a bad key at the door (the same 401s), then each
# tool call goes through the guarded REST route it stands for (tests/test_mcp.py: a peer key
# reaches through MCP what it reaches through REST).
MCP_ROUTES = {"/mcp"}


def explorer_path(path: str) -> bool:
    """The memory explorer's pages and assets (``honcho_server.web``), served outside the REST
    guard like /mcp: each page reads and writes through the guarded /v3 routes in-process with
    the browser session's key; tests/browser/test_auth.py checks what they refuse."""
    return path == "/" or path == "/ui" or path.startswith("/ui/")


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
    ("GET", "/deriver/metrics"): Example(ADMIN),  # every tenant's backlog, like /status
    ("POST", "/v3/keys"): Example(ADMIN, query={"workspace_id": "{workspace_id}"}),
    ("POST", "/v3/workspaces"): Example(CREATE_WORKSPACE, {"id": "{workspace_id}"}),
    ("POST", "/v3/workspaces/list"): Example(ADMIN, {}),
    ("GET", W): Example(WS),  # beyond upstream: a read that creates nothing
    ("GET", W + "/export"): Example(WS),  # beyond upstream: the workspace as a file
    ("POST", "/v3/workspaces/import"): Example(ADMIN),  # beyond upstream: creates any workspace
    ("PUT", W): Example(WS, {"metadata": {"changed": True}}),
    ("DELETE", W): Example(WS),
    ("POST", W + "/search"): Example(WS, QUERY),
    ("GET", W + "/queue/status"): Example(WS),
    ("GET", W + "/deriver/metrics"): Example(WS),
    ("POST", W + "/schedule_dream"): Example(WS, {"observer": "alice", "dream_type": "omni"}),
    ("POST", W + "/chat"): Example(WS, {"query": "what does alice like?"}),
    ("POST", W + "/peers/list"): Example(WS, {}),
    ("POST", W + "/peers"): Example(GET_PEER, {"id": "alice"}),
    ("PUT", P): Example(PEER, {"metadata": {"changed": True}}),
    ("DELETE", P): Example(WS),  # erasing a peer: not even the peer's own key
    ("POST", P + "/sessions"): Example(PEER, {}),
    ("POST", P + "/chat"): Example(PEER, {"query": "what does bob like?"}),
    ("POST", P + "/representation"): Example(PEER, {}),
    ("GET", P + "/card"): Example(PEER),
    ("PUT", P + "/card"): Example(PEER, {"peer_card": ["changed"]}),
    ("GET", P + "/context"): Example(PEER),
    ("POST", P + "/search"): Example(PEER, QUERY),
    ("POST", W + "/sessions/list"): Example(WS, {}),
    ("POST", W + "/sessions"): Example(GET_SESSION, {"id": "s1"}),
    ("GET", S): Example(MEMBER),  # beyond upstream: a read that creates nothing
    ("PUT", S): Example(SESSION, {"metadata": {"changed": True}}),
    ("DELETE", S): Example(SESSION),
    ("POST", S + "/clone"): Example(WS),  # creates a session: not a session key's to do
    ("POST", S + "/peers"): Example(SESSION, {"bob": {}}),
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
    ("DELETE", S + "/messages/{message_id}"): Example(WS),  # beyond upstream, irreversible
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
    """(method, full path template) of every API route, through included routers.

    ``/v2`` routes are left out: each runs its v3 twin in-process with the caller's key (which
    this matrix covers); ``tests/v2/test_v2_auth.py`` checks that they refuse what v3 refuses.
    """
    keys = []
    for context in routing.iter_route_contexts(app.routes):
        if context.path.startswith("/v2/") or explorer_path(context.path):
            continue
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
    assert {path for _, path in routes if path in PUBLIC} <= OPEN_ROUTES


def test_every_other_served_path_is_classified(auth_app: FastAPI) -> None:
    others = {
        context.path
        for context in routing.iter_route_contexts(auth_app.routes)
        if not isinstance(context.original_route, APIRoute)
    }
    assert others >= MCP_ROUTES
    others = {path for path in others if not explorer_path(path)}
    assert not others - PUBLIC - MCP_ROUTES, "served paths neither public, MCP nor REST"


async def test_mcp_refuses_bad_keys_like_rest(
    auth_client: httpx.AsyncClient, tenant_b: Tenant
) -> None:
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    accept = {"Accept": "application/json, text/event-stream"}
    for kind, detail in FIXED_DETAILS.items():
        headers = {**tenant_b.keys[kind], **accept}
        r = await auth_client.post("/mcp", json=call, headers=headers)
        assert r.status_code == 401 and r.json() == {"detail": detail}, kind
    for kind in ("admin", "ws_own", "peer_own", "session_own"):  # valid keys get in
        headers = {**tenant_b.keys[kind], **accept}
        r = await auth_client.post("/mcp", json=call, headers=headers)
        assert r.status_code == 200, (kind, r.text)


async def test_public_routes_stay_open(auth_client: httpx.AsyncClient) -> None:
    assert (await auth_client.get("/health")).json()["status"] == "ok"
    metrics = await auth_client.get("/metrics")
    assert metrics.status_code == 200 and "honcho_database_up 1.0" in metrics.text
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

    for kind in sorted(example.allowed, key=lambda k: (k in WS, k)):  # narrow keys first
        r = await auth_client.request(**build(example, a, method, template), headers=a.keys[kind])
        assert r.status_code != 401, (kind, r.text)
        if route not in LLM_ROUTES:
            assert r.status_code < 500, (kind, r.status_code, r.text)


# --- every option that names another object, probed ------------------------------------------
#
# Positions are derived from the served /openapi.json (query and path parameters, body fields
# at any depth, the keys of maps such as a session's peer map) plus the options a route accepts
# but hides from the document (FastAPI's own parameter list and the body models' fields). Each
# position is either a plain value (VALUE_FIELDS, VALUE_SUBTREES), the path resource the route
# rule above already decides (ROUTE_PATH), or has an entry in PROBES: a list of requests naming
# an object, each with the key kinds that must pass, every other kind getting a 401; or
# ROUTE_BOUND, for routes only workspace-level keys reach (every object of their workspace is
# in their reach). A new option fails test_every_object_naming_option_is_probed until classified.

VALUE_FIELDS = frozenset(
    {
        "page", "size", "reverse", "tokens", "summary", "search_query", "search_top_k",
        "search_max_distance", "include_most_frequent", "max_conclusions", "limit_to_session",
        "query", "limit", "top_k", "distance", "stream", "reasoning_level", "include_evidence",
        "content", "created_at", "file", "url", "dream_type", "rebuild", "peer_card",
        "observe_me", "observe_others", "expires_at", "Idempotency-Key", "embeddings",
        "replace",
    }
)  # fmt: skip
VALUE_SUBTREES = frozenset({"metadata", "configuration", "response_format"})
ROUTE_PATH = "decided by the route rule"
ROUTE_BOUND = "workspace-level keys only"
BLIND = frozenset({"peer_own", "session_own"})  # must never see carol's or s2's data
OBSERVE = WS | {"peer_own"}  # alice's own view of someone, on alice's routes


@dataclass(frozen=True)
class Case:
    """A request naming an object: ``allowed`` kinds are not refused, all others get a 401."""

    allowed: frozenset[str]
    json: Any = None
    query: dict[str, str | list[str]] = field(default_factory=dict)
    path: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] | None = None


Position = tuple[str, str, str, str]  # method, route template, query|path|body, field path
Probe = tuple[Case, ...] | str

CHAT = {"query": "what does carol like?"}
PROBES: dict[Position, Probe] = {
    # self-authorizing get-or-create routes
    ("POST", "/v3/workspaces", "body", "id"): (
        Case(ADMIN | {"ws_other", "peer_other", "session_other"}, {"id": "{other_workspace}"}),
    ),
    ("POST", W + "/peers", "body", "id"): (
        Case(WS | {"peer_nonmember", "session_sibling"}, {"id": "carol"}),
        Case(WS | {"peer_nonmember", "session_sibling"}, {"name": "carol"}),  # the alias
        Case(WS | {"session_own"}, {"id": "bob"}),
    ),
    ("POST", W + "/sessions", "body", "id"): (
        Case(WS | {"peer_nonmember", "session_sibling"}, {"id": "s2"}),
        Case(WS | {"peer_nonmember", "session_sibling"}, {"name": "s2"}),  # the alias
    ),
    ("POST", W + "/sessions", "body", "peers{}"): (
        Case(WS, {"id": "s1", "peers": {"carol": {}}}),  # enrolling a non-member
        Case(WS, {"id": "s1", "peer_names": {"carol": {}}}),  # the same through the alias
        Case(WS | {"session_own"}, {"id": "s1", "peers": {"bob": {}}}),
    ),
    ("POST", W + "/sessions", "body", "scopes"): (Case(WS, {"id": "s1", "scopes": ["sc1"]}),),
    # alice's routes: her own view of anyone; sessions she is an active member of; no scopes
    ("POST", P + "/representation", "body", "session_id"): (
        Case(WS, {"session_id": "s2"}),
        Case(OBSERVE, {"session_id": "s1"}),
    ),
    ("POST", P + "/representation", "body", "filters"): (
        Case(WS, {"filters": {"session_id": ["s1", "s2"]}}),
        Case(WS, {"filters": {"session_id": {"in": ["s2"]}}}),
        Case(OBSERVE, {"filters": {"session_id": "s1"}}),
    ),
    ("POST", P + "/representation", "body", "target"): (Case(OBSERVE, {"target": "carol"}),),
    ("POST", P + "/representation", "body", "scope"): (Case(WS, {"scope": "sc1"}),),
    ("GET", P + "/context", "query", "target"): (Case(OBSERVE, query={"target": "carol"}),),
    ("GET", P + "/card", "query", "target"): (Case(OBSERVE, query={"target": "carol"}),),
    ("PUT", P + "/card", "query", "target"): (
        Case(OBSERVE, {"peer_card": ["changed"]}, query={"target": "carol"}),
    ),
    ("POST", P + "/chat", "body", "session_id"): (
        Case(WS, {**CHAT, "session_id": "s2"}),
        Case(OBSERVE, {**CHAT, "session_id": "s1"}),
    ),
    ("POST", P + "/chat", "body", "filters"): (
        Case(WS, {**CHAT, "filters": {"session_id": ["s1", "s2"]}}),
    ),
    ("POST", P + "/chat", "body", "target"): (Case(OBSERVE, {**CHAT, "target": "carol"}),),
    ("POST", P + "/chat", "body", "scope"): (Case(WS, {**CHAT, "scope": ["sc1"]}),),
    ("POST", P + "/search", "body", "filters"): (
        Case(OBSERVE, {"query": "chess", "filters": {"session_id": "s2"}}),
    ),
    ("POST", P + "/search", "body", "scope"): (Case(WS, {"query": "tea", "scope": "sc1"}),),
    ("POST", P + "/sessions", "body", "filters"): (Case(OBSERVE, {"filters": {"id": "s2"}}),),
    # session s1: a session key reaches s1's active members (alice, bob), not carol or s2
    ("GET", S + "/context", "query", "peer_target"): (
        Case(WS, query={"peer_target": "carol"}),  # issue 10: was carol's card and conclusions
        Case(WS | {"session_own"}, query={"peer_target": "bob"}),
        Case(MEMBER, query={"peer_target": "alice"}),
        Case(OBSERVE, query={"peer_target": "carol", "peer_perspective": "alice"}),
    ),
    ("GET", S + "/context", "query", "peer_perspective"): (
        Case(WS, query={"peer_target": "alice", "peer_perspective": "carol"}),
        Case(WS | {"session_own"}, query={"peer_target": "alice", "peer_perspective": "bob"}),
    ),
    ("GET", S + "/context", "query", "sessions"): (
        Case(WS, query={"peer_target": "alice", "sessions": ["s1", "s2"]}),
        Case(MEMBER, query={"peer_target": "alice", "sessions": ["s1"]}),
    ),
    ("GET", S + "/context", "query", "scope"): (
        Case(WS, query={"peer_target": "alice", "scope": "sc1"}),
    ),
    ("POST", S + "/search", "body", "filters"): (
        Case(MEMBER, {"query": "chess", "filters": {"session_id": "s2"}}),
    ),
    ("POST", S + "/search", "body", "scope"): (Case(WS, {"query": "tea", "scope": "sc1"}),),
    ("POST", S + "/messages/list", "body", "filters"): (
        Case(MEMBER, {"filters": {"session_id": "s2"}}),
        Case(MEMBER, {"filters": {"peer_id": "carol"}}),
    ),
    ("POST", S + "/messages", "body", "messages[].peer_id"): (
        Case(WS, {"messages": [{"peer_id": "carol", "content": "enrolled by writing"}]}),
        Case(SESSION, {"messages": [{"peer_id": "bob", "content": "a member writes"}]}),
    ),
    ("POST", S + "/messages/", "body", "messages[].peer_id"): (
        Case(WS, {"messages": [{"peer_id": "carol", "content": "enrolled by writing"}]}),
    ),
    ("POST", S + "/messages/upload", "body", "peer_id"): (Case(WS, form={"peer_id": "carol"}),),
    ("POST", S + "/peers", "body", "{}"): (Case(WS, {"carol": {}}),),
    ("PUT", S + "/peers", "body", "{}"): (Case(WS, {"carol": {}}),),
    ("DELETE", S + "/peers", "body", "[]"): (Case(WS, ["carol"]), Case(SESSION, ["bob"])),
    ("GET", S + "/peers/{peer_id}/config", "path", "peer_id"): (
        Case(WS, path={"peer_id": "carol"}),
        Case(WS | {"session_own"}, path={"peer_id": "bob"}),
    ),
    ("PUT", S + "/peers/{peer_id}/config", "path", "peer_id"): (
        Case(WS, {"observe_me": False}, path={"peer_id": "carol"}),
    ),
    # a message id is looked up within the path's session: s2's message is not found via s1
    ("GET", S + "/messages/{message_id}", "path", "message_id"): (
        Case(MEMBER, path={"message_id": "{s2_message_id}"}),
    ),
    ("PUT", S + "/messages/{message_id}", "path", "message_id"): (
        Case(SESSION, {"metadata": {"x": 1}}, path={"message_id": "{s2_message_id}"}),
    ),
    # routes only workspace-level keys (or admins) reach
    ("POST", S + "/clone", "query", "message_id"): ROUTE_BOUND,
    ("DELETE", S + "/messages/{message_id}", "path", "message_id"): ROUTE_BOUND,
    ("POST", "/v3/keys", "query", "workspace_id"): ROUTE_BOUND,
    ("POST", "/v3/keys", "query", "peer_id"): ROUTE_BOUND,
    ("POST", "/v3/keys", "query", "session_id"): ROUTE_BOUND,
    ("POST", "/v3/workspaces/import", "query", "workspace_id"): ROUTE_BOUND,  # admin only
    ("POST", "/v3/workspaces/list", "body", "filters"): ROUTE_BOUND,
    ("POST", W + "/peers/list", "body", "filters"): ROUTE_BOUND,
    ("POST", W + "/peers/list", "body", "kind"): ROUTE_BOUND,  # lists the scopes' peers
    ("POST", W + "/sessions/list", "body", "filters"): ROUTE_BOUND,
    ("POST", W + "/conclusions/list", "body", "filters"): ROUTE_BOUND,
    ("POST", W + "/conclusions/query", "body", "filters"): ROUTE_BOUND,
    ("POST", W + "/conclusions", "body", "conclusions[].observer_id"): ROUTE_BOUND,
    ("POST", W + "/conclusions", "body", "conclusions[].observed_id"): ROUTE_BOUND,
    ("POST", W + "/conclusions", "body", "conclusions[].session_id"): ROUTE_BOUND,
    ("GET", W + "/conclusions/{conclusion_id}", "path", "conclusion_id"): ROUTE_BOUND,
    ("DELETE", W + "/conclusions/{conclusion_id}", "path", "conclusion_id"): ROUTE_BOUND,
    ("POST", W + "/search", "body", "filters"): ROUTE_BOUND,
    ("POST", W + "/search", "body", "scope"): ROUTE_BOUND,
    ("POST", W + "/chat", "body", "session_id"): ROUTE_BOUND,
    ("POST", W + "/chat", "body", "filters"): ROUTE_BOUND,
    ("POST", W + "/chat", "body", "scope"): ROUTE_BOUND,
    ("GET", W + "/queue/status", "query", "observer_id"): ROUTE_BOUND,
    ("GET", W + "/queue/status", "query", "sender_id"): ROUTE_BOUND,
    ("GET", W + "/queue/status", "query", "session_id"): ROUTE_BOUND,
    ("POST", W + "/schedule_dream", "body", "observer"): ROUTE_BOUND,
    ("POST", W + "/schedule_dream", "body", "observed"): ROUTE_BOUND,
    ("POST", W + "/schedule_dream", "body", "session_id"): ROUTE_BOUND,
    ("POST", W + "/scopes", "body", "id"): ROUTE_BOUND,
    ("POST", SC + "/sessions", "body", "session_ids"): ROUTE_BOUND,
    ("DELETE", W + "/webhooks/{endpoint_id}", "path", "endpoint_id"): ROUTE_BOUND,
}


Defs = dict[str, Any]  # schema name -> schema ($ref targets)


def _resolve(defs: Defs, schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _variants(doc: Defs, schema: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(doc, schema)
    subs = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if not subs:
        return [schema]
    return [v for sub in subs for v in _variants(doc, sub) if v.get("type") != "null"]


def _body_positions(doc: Defs, schema: dict[str, Any], prefix: str) -> set[str]:
    """Field paths in a body schema: ``a.b``, list items ``a[]``, map keys ``a{}``."""
    out: set[str] = set()
    for variant in _variants(doc, schema):
        if variant.get("type") == "array" and "items" in variant:
            items = _variants(doc, variant["items"])
            if any("properties" in i or "items" in i for i in items):
                out |= _body_positions(doc, variant["items"], prefix + "[]")
            else:
                out.add(prefix or "[]")  # a list of plain values names what the list names
        elif "properties" in variant:
            for name, sub in variant["properties"].items():
                out |= _body_positions(doc, sub, f"{prefix}.{name}" if prefix else name)
        elif isinstance(variant.get("additionalProperties"), dict):
            out.add(prefix + "{}")  # a map's keys (e.g. peer ids)
            out |= _body_positions(doc, variant["additionalProperties"], prefix + "{}")
        elif prefix:
            out.add(prefix)
    return out


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _hidden_positions(app: FastAPI) -> set[Position]:
    """Options a route accepts but leaves out of the OpenAPI document."""
    out: set[Position] = set()
    for context in routing.iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not context.path.startswith("/v3"):
            continue
        names = {("query", name) for name in _query_names(route.dependant)}
        if route.body_field is not None:
            model = route.body_field.field_info.annotation
            if route.include_in_schema:  # fields left out of the document (SkipJsonSchema)
                names |= {("body", name) for name in getattr(model, "model_fields", {})}
            else:  # the whole route is hidden: walk its body model
                schema = TypeAdapter(model).json_schema()
                names |= {("body", f) for f in _body_positions(schema.get("$defs", {}), schema, "")}
        for method in context.methods or ():
            out |= {(method, context.path, where, name) for where, name in names}
    return out


def _positions(doc: dict[str, Any]) -> set[Position]:
    out: set[Position] = set()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            m = method.upper()
            for param in op.get("parameters", []):
                out.add((m, path, param["in"], param["name"]))
            for content in op.get("requestBody", {}).get("content", {}).values():
                schema = content["schema"]
                defs = doc["components"]["schemas"]
                out |= {(m, path, "body", f) for f in _body_positions(defs, schema, "")}
    return out


def _is_value(position: Position) -> bool:
    steps = position[3].replace("[]", ".").replace("{}", ".").split(".")
    names = [s for s in steps if s]
    leaf_is_value = bool(names) and names[-1] in VALUE_FIELDS and not position[3].endswith("{}")
    return leaf_is_value or any(n in VALUE_SUBTREES for n in names)


def _route_path(position: Position) -> bool:
    """The path resource the route rule decides: the workspace, a peer route's peer, a session
    route's session, a scope's id."""
    _, template, where, name = position
    if where != "path":
        return False
    rel = template.removeprefix("/v3")
    return (
        name == "workspace_id"
        or (name == "peer_id" and rel.startswith("/workspaces/{workspace_id}/peers/{peer_id}"))
        or (name == "session_id" and "/sessions/{session_id}" in rel)
        or (name == "scope_id" and rel.startswith("/workspaces/{workspace_id}/scopes/"))
    )


def _documented(position: Position, served: set[Position]) -> bool:
    """Whether the document has this option (a body field as itself or through its items)."""
    method, template, where, name = position
    return any(
        (m, t, w) == (method, template, where)
        and (n == name or n.startswith((name + ".", name + "[]", name + "{}")))
        for m, t, w, n in served
    )


async def test_every_object_naming_option_is_probed(
    auth_client: httpx.AsyncClient, auth_app: FastAPI
) -> None:
    doc = (await auth_client.get("/openapi.json")).json()
    served = _positions(doc)
    hidden = {p for p in _hidden_positions(auth_app) if not _documented(p, served)}
    everything = served | hidden
    naming = {p for p in everything if not _is_value(p) and not _route_path(p)}
    unprobed = sorted(naming - set(PROBES))
    assert not unprobed, f"options naming objects without a probe in PROBES: {unprobed}"
    stale = sorted(set(PROBES) - everything)
    assert not stale, f"PROBES entries for options the app does not have: {stale}"
    # The options upstream hides from the document are among them (and probed).
    assert ("GET", S + "/context", "query", "sessions") in hidden
    assert ("POST", P + "/representation", "body", "scope") in hidden
    # The guard's own table names only routes the app has (no entry left behind by a rename).
    routes = {(m, t.removeprefix("/v3")) for m, t in ROUTES}
    assert not set(policy.OPTIONS) - routes, set(policy.OPTIONS) - routes
    # A route-bound option's route really is reached by workspace-level keys only.
    for (method, template, _, name), probe in PROBES.items():
        if probe == ROUTE_BOUND:
            assert EXAMPLES[(method, template)].allowed <= WS, (method, template, name)


def _probe_ids() -> list[tuple[Position, int]]:
    return [
        (position, i)
        for position, probe in PROBES.items()
        if isinstance(probe, tuple)
        for i in range(len(probe))
    ]


def _case_id(item: tuple[Position, int]) -> str:
    (method, template, where, name), i = item
    return f"{method} {template.removeprefix(W)} {where}:{name} #{i}"


def build_case(case: Case, tenant: Tenant, method: str, template: str) -> dict[str, Any]:
    ids = {**tenant.ids, **{k: v.format(**tenant.ids) for k, v in case.path.items()}}
    request: dict[str, Any] = {
        "method": method,
        "url": template.format(**ids),
        "params": [
            (k, item.format(**ids))
            for k, v in case.query.items()
            for item in ([v] if isinstance(v, str) else v)
        ],
    }
    if case.form is not None:
        request["files"] = {"file": ("notes.txt", b"an uploaded note", "text/plain")}
        request["data"] = case.form
    elif case.json is not None:
        request["json"] = _fill(case.json, ids)
    return request


@pytest.mark.parametrize("item", _probe_ids(), ids=_case_id)
async def test_object_naming_option_reach(
    auth_client: httpx.AsyncClient, tenant_b: Tenant, item: tuple[Position, int]
) -> None:
    """Keys that must not reach the object get a 401 and none of its data; the others pass,
    and a key that cannot reach carol or s2 never sees their data, whatever it asks for."""
    (method, template, _, _), index = item
    probe = PROBES[item[0]]
    assert isinstance(probe, tuple)
    case = probe[index]
    a = await seed(auth_client, f"ws-a-{uuid.uuid4().hex[:10]}", tenant_b.workspace)
    refused = [kind for kind in KINDS if kind not in case.allowed]
    for kind in refused:  # first: a refused request changes nothing
        r = await auth_client.request(**build_case(case, a, method, template), headers=a.keys[kind])
        assert r.status_code == 401, (kind, r.status_code, r.text)
        assert isinstance(r.json()["detail"], str)
        assert a.secret not in r.text and a.marker not in r.text, kind
    for kind in sorted(case.allowed, key=lambda k: (k in WS, k)):  # narrow keys before writes
        r = await auth_client.request(**build_case(case, a, method, template), headers=a.keys[kind])
        assert r.status_code != 401, (kind, r.text)
        if (method, template) not in LLM_ROUTES:
            assert r.status_code < 500, (kind, r.status_code, r.text)
        if kind in BLIND:
            assert a.secret not in r.text, (kind, r.text)
