"""Every operation of the v2 contract, called over HTTP on a live ``serve`` and checked against
it: the status is one the operation documents, the body validates against its schema.

``EXAMPLES`` holds one request per operation; ``test_every_operation_has_an_example`` fails for
an operation of the contract without one (or an example for an operation it lacks). Each example
runs on a workspace of its own, seeded through v3: peers alice and bob in session s1, two
messages, a conclusion of alice about herself.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest
from spec_v2 import Operation, check, operations

from fakes.openai_server import FakeOpenAIServer

W = "/v2/workspaces/{ws}"
ALICE_ABOUT_HERSELF = {"observer_id": "alice", "observed_id": "alice"}
S = W + "/sessions/s1"


@dataclass
class Ctx:
    client: httpx.Client
    ws: str
    message_id: str
    conclusion_id: str
    webhook_id: str

    def url(self, template: str) -> str:
        return template.format(ws=self.ws, message=self.message_id)


def seed(client: httpx.Client) -> Ctx:
    ws = f"v2-{uuid.uuid4().hex[:10]}"
    v3 = f"/v3/workspaces/{ws}"
    assert client.post("/v3/workspaces", json={"id": ws}).status_code == 201
    r = client.post(f"{v3}/sessions", json={"id": "s1", "peers": {"alice": {}, "bob": {}}})
    assert r.status_code == 201, r.text
    messages = [
        {"peer_id": "alice", "content": "I love hiking in the Alps"},
        {"peer_id": "bob", "content": "Nice, which trail?"},
    ]
    r = client.post(f"{v3}/sessions/s1/messages", json={"messages": messages})
    assert r.status_code == 201, r.text
    conclusion = {
        "content": "alice loves hiking",
        "observer_id": "alice",
        "observed_id": "alice",
        "session_id": "s1",
    }
    r = client.post(f"{v3}/conclusions", json={"conclusions": [conclusion]})
    assert r.status_code == 201, r.text
    conclusion_id = r.json()[0]["id"]
    r = client.post(f"{v3}/webhooks", json={"url": "https://example.com/seeded"})
    assert r.status_code in (200, 201), r.text
    return Ctx(client, ws, _first_message(client, ws), conclusion_id, r.json()["id"])


def _first_message(client: httpx.Client, ws: str) -> str:
    r = client.post(f"/v3/workspaces/{ws}/sessions/s1/messages/list", json={})
    return str(r.json()["items"][0]["id"])


Request = Callable[[Ctx], httpx.Response]


def post(template: str, body: object = None, **params: object) -> Request:
    return lambda c: c.client.post(c.url(template), json=body, params=params)


def get(template: str, **params: object) -> Request:
    return lambda c: c.client.get(c.url(template), params=params)


def put(template: str, body: object = None, **params: object) -> Request:
    return lambda c: c.client.put(c.url(template), json=body, params=params)


def delete(template: str, body: object = None) -> Request:
    return lambda c: c.client.request("DELETE", c.url(template), json=body)


def _delete_workspace(c: Ctx) -> httpx.Response:
    c.client.delete(f"/v3/workspaces/{c.ws}/sessions/s1")  # v3 and v2 refuse while it is active
    return c.client.delete(c.url(W))


def _delete_webhook(c: Ctx) -> httpx.Response:
    return c.client.delete(c.url(W + "/webhooks/") + c.webhook_id)


def _delete_observation(c: Ctx) -> httpx.Response:
    return c.client.delete(c.url(W + "/observations/") + c.conclusion_id)


def _upload(c: Ctx) -> httpx.Response:
    files = {"file": ("notes.txt", b"alice packs light for long hikes", "text/plain")}
    return c.client.post(c.url(S + "/messages/upload"), files=files, data={"peer_id": "alice"})


EXAMPLES: dict[tuple[str, str], Request] = {
    ("POST", "/v2/workspaces"): lambda c: c.client.post("/v2/workspaces", json={"id": c.ws}),
    ("POST", "/v2/workspaces/list"): lambda c: c.client.post(
        "/v2/workspaces/list", json={"filters": {"id": c.ws}}
    ),
    ("PUT", "/v2/workspaces/{workspace_id}"): put(W, {"metadata": {"team": "v2"}}),
    ("DELETE", "/v2/workspaces/{workspace_id}"): _delete_workspace,
    ("POST", "/v2/workspaces/{workspace_id}/search"): post(W + "/search", {"query": "hiking"}),
    ("GET", "/v2/workspaces/{workspace_id}/deriver/status"): get(
        W + "/deriver/status", observer_id="alice"
    ),
    ("POST", "/v2/workspaces/{workspace_id}/trigger_dream"): post(
        W + "/trigger_dream", {"observer": "alice", "dream_type": "consolidate"}
    ),
    ("POST", "/v2/workspaces/{workspace_id}/peers/list"): post(W + "/peers/list", size=1),
    ("POST", "/v2/workspaces/{workspace_id}/peers"): post(W + "/peers", {"id": "carol"}),
    ("PUT", "/v2/workspaces/{workspace_id}/peers/{peer_id}"): put(
        W + "/peers/alice", {"metadata": {"age": 30}}
    ),
    ("POST", "/v2/workspaces/{workspace_id}/peers/{peer_id}/sessions"): post(
        W + "/peers/alice/sessions", {}
    ),
    ("POST", "/v2/workspaces/{workspace_id}/peers/{peer_id}/chat"): post(
        W + "/peers/alice/chat", {"query": "What does alice like?"}
    ),
    ("POST", "/v2/workspaces/{workspace_id}/peers/{peer_id}/representation"): post(
        W + "/peers/alice/representation", {"session_id": "s1"}
    ),
    ("GET", "/v2/workspaces/{workspace_id}/peers/{peer_id}/card"): get(W + "/peers/alice/card"),
    ("PUT", "/v2/workspaces/{workspace_id}/peers/{peer_id}/card"): put(
        W + "/peers/alice/card", {"peer_card": ["Name: Alice"]}
    ),
    ("GET", "/v2/workspaces/{workspace_id}/peers/{peer_id}/context"): get(
        W + "/peers/alice/context", max_observations=5
    ),
    ("POST", "/v2/workspaces/{workspace_id}/peers/{peer_id}/search"): post(
        W + "/peers/alice/search", {"query": "hiking", "limit": 5}
    ),
    ("POST", "/v2/workspaces/{workspace_id}/sessions"): post(
        W + "/sessions", {"id": "s2", "peers": {"alice": {"observe_others": True}}}
    ),
    ("POST", "/v2/workspaces/{workspace_id}/sessions/list"): post(W + "/sessions/list", None),
    ("PUT", "/v2/workspaces/{workspace_id}/sessions/{session_id}"): put(
        S, {"metadata": {"topic": "trips"}}
    ),
    ("DELETE", "/v2/workspaces/{workspace_id}/sessions/{session_id}"): delete(S),
    ("GET", "/v2/workspaces/{workspace_id}/sessions/{session_id}/clone"): get(S + "/clone"),
    ("POST", "/v2/workspaces/{workspace_id}/sessions/{session_id}/peers"): post(
        S + "/peers", {"carol": {"observe_me": False}}
    ),
    ("PUT", "/v2/workspaces/{workspace_id}/sessions/{session_id}/peers"): put(
        S + "/peers", {"alice": {}, "bob": {}}
    ),
    ("DELETE", "/v2/workspaces/{workspace_id}/sessions/{session_id}/peers"): delete(
        S + "/peers", ["bob"]
    ),
    ("GET", "/v2/workspaces/{workspace_id}/sessions/{session_id}/peers"): get(S + "/peers"),
    ("GET", "/v2/workspaces/{workspace_id}/sessions/{session_id}/peers/{peer_id}/config"): get(
        S + "/peers/alice/config"
    ),
    ("POST", "/v2/workspaces/{workspace_id}/sessions/{session_id}/peers/{peer_id}/config"): post(
        S + "/peers/alice/config", {"observe_others": True}
    ),
    ("GET", "/v2/workspaces/{workspace_id}/sessions/{session_id}/context"): get(
        S + "/context", tokens=500, peer_target="alice", last_message="hiking"
    ),
    ("GET", "/v2/workspaces/{workspace_id}/sessions/{session_id}/summaries"): get(S + "/summaries"),
    ("POST", "/v2/workspaces/{workspace_id}/sessions/{session_id}/search"): post(
        S + "/search", {"query": "Alps", "filters": {"peer_id": "alice"}}
    ),
    ("POST", "/v2/workspaces/{workspace_id}/sessions/{session_id}/messages/"): post(
        S + "/messages/", {"messages": [{"peer_id": "alice", "content": "Off to Chamonix"}]}
    ),
    ("POST", "/v2/workspaces/{workspace_id}/sessions/{session_id}/messages/upload"): _upload,
    ("POST", "/v2/workspaces/{workspace_id}/sessions/{session_id}/messages/list"): post(
        S + "/messages/list", {"filters": {"peer_id": "bob"}}, reverse=True
    ),
    ("GET", "/v2/workspaces/{workspace_id}/sessions/{session_id}/messages/{message_id}"): get(
        S + "/messages/{message}"
    ),
    ("PUT", "/v2/workspaces/{workspace_id}/sessions/{session_id}/messages/{message_id}"): put(
        S + "/messages/{message}", {"metadata": {"edited": True}}
    ),
    ("POST", "/v2/workspaces/{workspace_id}/observations"): post(
        W + "/observations",
        {
            "observations": [
                {
                    "content": "bob asks about trails",
                    "observer_id": "alice",
                    "observed_id": "bob",
                    "session_id": "s1",
                }
            ]
        },
    ),
    ("POST", "/v2/workspaces/{workspace_id}/observations/list"): post(
        W + "/observations/list", {"filters": {"observer_id": "alice"}}
    ),
    ("POST", "/v2/workspaces/{workspace_id}/observations/query"): post(
        W + "/observations/query",
        {"query": "hiking", "top_k": 3, "filters": ALICE_ABOUT_HERSELF},
    ),
    ("DELETE", "/v2/workspaces/{workspace_id}/observations/{observation_id}"): _delete_observation,
    ("POST", "/v2/keys"): lambda c: c.client.post(
        "/v2/keys", params={"workspace_id": c.ws, "peer_id": "alice"}
    ),
    ("POST", "/v2/workspaces/{workspace_id}/webhooks"): post(
        W + "/webhooks", {"url": "https://example.com/hook"}
    ),
    ("GET", "/v2/workspaces/{workspace_id}/webhooks"): get(W + "/webhooks"),
    ("DELETE", "/v2/workspaces/{workspace_id}/webhooks/{endpoint_id}"): _delete_webhook,
    ("GET", "/v2/workspaces/{workspace_id}/webhooks/test"): get(W + "/webhooks/test"),
    ("GET", "/metrics"): lambda c: c.client.get("/metrics"),
}

OPERATIONS = operations()


def test_every_operation_has_an_example() -> None:
    keys = {op.key for op in OPERATIONS}
    assert len([op for op in OPERATIONS if op.path.startswith("/v2/")]) == 45
    assert len({op.path for op in OPERATIONS if op.path.startswith("/v2/")}) == 36
    missing = sorted(keys - EXAMPLES.keys())
    assert not missing, f"v2 operations without an example: {missing}"
    assert not EXAMPLES.keys() - keys, "examples for operations the contract lacks"


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.method} {op.path}")
def test_operation_answers_as_documented(
    operation: Operation, admin: httpx.Client, chat_llm: FakeOpenAIServer
) -> None:
    ctx = seed(admin)
    response = EXAMPLES[operation.key](ctx)
    assert response.status_code < 400, f"{response.status_code} {response.text[:500]}"
    check(operation, response)
