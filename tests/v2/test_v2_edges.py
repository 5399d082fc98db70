"""v2 and v3 over one memory, bad input, and the v2 OpenAPI document."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest
from spec_v2 import operations, spec
from test_v2_contract import seed
from v2_support import SECRET

from fakes.openai_server import FakeOpenAIServer
from honcho_server.auth.keys import mint


def peer_key(ws: str) -> str:
    """A key of bob's, who may not chat as alice."""
    return mint(SECRET, workspace=ws, peer="bob")


def test_written_through_v3_reads_back_through_v2(admin: httpx.Client) -> None:
    ws = f"v3to2-{uuid.uuid4().hex[:10]}"
    v3, v2 = f"/v3/workspaces/{ws}", f"/v2/workspaces/{ws}"
    admin.post("/v3/workspaces", json={"id": ws, "metadata": {"made": "v3"}})
    admin.post(f"{v3}/sessions", json={"id": "s1", "peers": {"alice": {}, "bob": {}}})
    sent = admin.post(
        f"{v3}/sessions/s1/messages",
        json={"messages": [{"peer_id": "alice", "content": "hello from v3"}]},
    ).json()
    conclusions = [
        {"content": "alice said hello", "observer_id": "bob", "observed_id": "alice"},
        {
            "content": "alice is friendly",
            "observer_id": "bob",
            "observed_id": "alice",
            "session_id": "s1",
        },
    ]
    admin.post(f"{v3}/conclusions", json={"conclusions": conclusions})
    admin.put(f"{v3}/peers/alice/card", params={"target": "alice"}, json={"peer_card": ["Hi"]})

    listed = admin.post(f"{v2}/sessions/s1/messages/list", json={}).json()
    assert [(m["id"], m["content"]) for m in listed["items"]] == [(sent[0]["id"], "hello from v3")]
    assert admin.post("/v2/workspaces/list", json={"filters": {"id": ws}}).json()["items"][0][
        "metadata"
    ] == {"made": "v3"}
    observations = admin.post(
        f"{v2}/observations/list", json={"filters": {"observer_id": "bob"}}
    ).json()["items"]
    assert sorted((o["content"], o["session_id"]) for o in observations) == [
        ("alice is friendly", "s1"),
        ("alice said hello", ""),  # no session in v3; v2 requires the field
    ]
    rep = admin.post(f"{v2}/peers/bob/representation", json={"target": "alice"}).json()
    assert sorted((o["content"], o["session_name"]) for o in rep["explicit"]) == [
        ("alice is friendly", "s1"),
        ("alice said hello", ""),
    ]
    assert rep["deductive"] == []
    scoped = admin.post(
        f"{v2}/peers/bob/representation", json={"target": "alice", "session_id": "s1"}
    ).json()
    assert [o["content"] for o in scoped["explicit"]] == ["alice is friendly"]
    context = admin.get(
        f"{v2}/sessions/s1/context", params={"peer_target": "alice", "peer_perspective": "bob"}
    ).json()
    assert len(context["peer_representation"]["explicit"]) == 2
    assert admin.get(f"{v2}/peers/alice/card").json() == {"peer_card": ["Hi"]}
    status = admin.get(f"{v2}/deriver/status").json()
    assert set(status) >= {"total_work_units", "pending_work_units", "in_progress_work_units"}


def test_deleting_through_v2_is_seen_by_v3(admin: httpx.Client) -> None:
    ctx = seed(admin)
    v2, v3 = f"/v2/workspaces/{ctx.ws}", f"/v3/workspaces/{ctx.ws}"
    assert admin.delete(f"{v2}/observations/{ctx.conclusion_id}").status_code == 200
    assert admin.post(f"{v3}/conclusions/list", json={}).json()["items"] == []
    assert admin.delete(f"{v2}/webhooks/{ctx.webhook_id}").status_code == 200
    assert admin.get(f"{v3}/webhooks").json()["items"] == []
    assert admin.delete(f"{v2}/sessions/s1").status_code == 202
    assert admin.post(f"{v3}/sessions/list", json={}).json()["items"] == []
    deleted = admin.delete(v2)
    assert deleted.status_code == 200 and deleted.json()["id"] == ctx.ws
    assert admin.get(v3).status_code == 404
    assert admin.delete(v2).status_code == 404  # gone: v3's answer, unchanged


# Each v2 request beside its v3 twin: where v3 refuses, v2 answers the very same status and body.
TWINS: list[tuple[str, str, str, Any]] = [
    ("GET", "/sessions/s1/messages/nope", "/sessions/s1/messages/nope", None),
    ("GET", "/sessions/nope/peers/alice/config", "/sessions/nope/peers/alice/config", None),
    ("PUT", "/sessions/s1/messages/nope", "/sessions/s1/messages/nope", {"metadata": {}}),
    ("GET", "/peers/nobody/card", "/peers/nobody/card", None),
    ("POST", "/peers/alice/search", "/peers/alice/search", {"query": "x", "limit": 0}),
    ("POST", "/observations/list", "/conclusions/list", {"filters": {"nope": {"$x": 1}}}),
    ("POST", "/search", "/search", {"query": "x", "filters": {"created_at": {"gte": "no"}}}),
]


@pytest.mark.parametrize(("method", "v2_path", "v3_path", "body"), TWINS)
def test_v2_refuses_as_v3_does(
    admin: httpx.Client, method: str, v2_path: str, v3_path: str, body: Any
) -> None:
    ctx = seed(admin)
    two = admin.request(method, f"/v2/workspaces/{ctx.ws}{v2_path}", json=body)
    three = admin.request(method, f"/v3/workspaces/{ctx.ws}{v3_path}", json=body)
    assert 400 <= three.status_code < 500, three.text
    assert (two.status_code, two.json()) == (three.status_code, three.json())


BAD: list[tuple[str, str, Any, dict[str, Any] | None]] = [
    ("POST", "/sessions/s1/messages/", {"messages": []}, None),
    ("POST", "/sessions/s1/messages/", {"messages": [{"content": "no author"}]}, None),
    ("POST", "/sessions/s1/messages/", "not json at all", None),
    (  # v2 requires the session of an observation (v3 does not)
        "POST",
        "/observations",
        {"observations": [{"content": "c", "observer_id": "alice", "observed_id": "alice"}]},
        None,
    ),
    ("POST", "/trigger_dream", {"observer": "alice", "dream_type": "omni"}, None),  # v3's name
    ("GET", "/sessions/s1/context", None, {"tokens": -1}),
    ("GET", "/peers/alice/context", None, {"max_observations": 101}),
    ("POST", "/peers/alice/representation", {"search_top_k": 0}, None),
    ("POST", "/peers/alice/chat", {"query": ""}, None),
    ("POST", "/sessions/s1/messages/list", None, {"size": 0}),
]


@pytest.mark.parametrize(("method", "path", "body", "params"), BAD)
def test_bad_input_is_a_422_with_a_detail(
    admin: httpx.Client, method: str, path: str, body: Any, params: dict[str, Any] | None
) -> None:
    ctx = seed(admin)
    url = f"/v2/workspaces/{ctx.ws}{path}"
    if isinstance(body, str):
        response = admin.request(
            method, url, content=body, headers={"content-type": "application/json"}
        )
    else:
        response = admin.request(method, url, json=body, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_the_v2_document_is_deprecated_and_covers_the_contract(admin: httpx.Client) -> None:
    doc = admin.get("/v2/openapi.json").json()
    assert doc["info"]["version"] == spec()["info"]["version"] == "2.5.1"
    served = {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if operation["deprecated"] is True
    }
    contract = {op.key for op in operations() if op.path.startswith("/v2/")}
    assert served == contract
    assert sum(len(item) for item in doc["paths"].values()) == len(contract) == 45
    v3 = admin.get("/openapi.json").json()
    assert not [path for path in v3["paths"] if path.startswith("/v2")]


def test_a_streamed_chat_passes_v3_events_on(
    admin: httpx.Client, chat_llm: FakeOpenAIServer
) -> None:
    ctx = seed(admin)
    url = f"/v2/workspaces/{ctx.ws}/peers/alice/chat"
    with admin.stream("POST", url, json={"query": "hi", "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [
            json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")
        ]
    text = "".join(e["delta"]["content"] for e in events if "delta" in e)
    assert text == "Alice loves hiking." and events[-1] == {"done": True}
    body = {"query": "hi", "stream": True}
    refused = httpx.post(f"{admin.base_url}{url}", json=body)  # no key: refused before streaming
    three = httpx.post(f"{admin.base_url}/v3/workspaces/{ctx.ws}/peers/alice/chat", json=body)
    assert (refused.status_code, refused.json()) == (three.status_code, three.json())
    assert refused.status_code == 401
    other = httpx.post(
        f"{admin.base_url}{url}", json=body, headers={"Authorization": f"Bearer {peer_key(ctx.ws)}"}
    )
    assert other.status_code == 401 and isinstance(other.json()["detail"], str)


def test_an_idempotency_key_on_v2_reaches_v3(admin: httpx.Client) -> None:
    """Beyond v2 (as on v3): a retried create with the same key stores its messages once."""
    ctx = seed(admin)
    url = f"/v2/workspaces/{ctx.ws}/sessions/s1/messages/"
    body = {"messages": [{"peer_id": "alice", "content": "only once"}]}
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    first = admin.post(url, json=body, headers=headers)
    again = admin.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    listed = admin.post(f"/v3/workspaces/{ctx.ws}/sessions/s1/messages/list", json={}).json()
    assert [m["content"] for m in listed["items"]].count("only once") == 1


def test_the_v2_document_says_what_v2_answers(admin: httpx.Client) -> None:
    """Its 422 may be Honcho's string detail too, and an outage is a 503, as in v3's."""
    doc = admin.get("/v2/openapi.json").json()
    url = "/v2/workspaces/{workspace_id}/observations"
    responses = doc["paths"][url]["post"]["responses"]
    assert {"$ref": "#/components/schemas/HonchoError"} in responses["422"]["content"][
        "application/json"
    ]["schema"]["anyOf"]
    assert "503" in responses
    assert "200" in responses  # v2's status, not v3's 201


def test_a_streamed_chat_is_not_buffered(admin: httpx.Client, chat_llm: FakeOpenAIServer) -> None:
    """The stream starts (status and headers) before the model answers, as on v3, and its events
    follow when the model has written them; a buffered pass-through would hold everything until
    the end."""
    chat_llm.state.latency_seconds = 2.0
    ctx = seed(admin)
    url = f"/v2/workspaces/{ctx.ws}/peers/alice/chat"
    start = time.monotonic()
    with admin.stream("POST", url, json={"query": "hi", "stream": True}) as response:
        started = time.monotonic() - start
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
        ended = time.monotonic() - start
    assert response.status_code == 200 and events
    assert ended - started > 1.5, (started, ended)


def _bounds(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's numeric bounds and default, wherever its schema keeps them."""
    found: dict[str, Any] = {}
    for part in [schema, *schema.get("anyOf", [])]:
        for key in ("minimum", "maximum"):
            if key in part:
                found[key] = part[key]
    if "default" in schema:
        found["default"] = schema["default"]
    return found


def test_the_v2_query_parameters_are_the_contracts(admin: httpx.Client) -> None:
    """Same names, same bounds and defaults (ours may add a minimum the contract leaves open:
    a negative token budget is refused, as on v3)."""
    served = admin.get("/v2/openapi.json").json()["paths"]
    compared = 0
    for op in operations():
        if not op.path.startswith("/v2/"):
            continue
        contract = spec()["paths"][op.path][op.method.lower()].get("parameters", [])
        ours = {p["name"]: p for p in served[op.path][op.method.lower()].get("parameters", [])}
        for param in contract:
            if param["in"] != "query":
                continue
            assert param["name"] in ours, (op.key, param["name"])
            theirs, mine = _bounds(param["schema"]), _bounds(ours[param["name"]]["schema"])
            for key, value in theirs.items():
                assert mine.get(key) == value, (op.key, param["name"], key, mine)
                compared += 1
    assert compared >= 30
