"""Context bounds and reads of missing or deleted sessions, over real HTTP (issue 10, item 12).

Bounds. Every integer or number option of the context routes declares both bounds in the served
OpenAPI document, and out-of-range values, huge integers (``10**23``) and integers too long to
parse are a 422 (never a 500, never a silently accepted 200); in a JSON body, a number of more
than 4,300 digits is not JSON Python parses and gets the 400 of any unparseable body. The
numbers:

* session context ``tokens``: 0-100,000. Upstream declares only the maximum (a negative budget
  there reads as "nothing"); a negative budget is refused here, 0 keeps meaning no summary and
  no messages (only the peer view, when ``peer_target`` is given). The Python SDK already
  refuses ``tokens <= 0`` itself.
* ``search_top_k`` 1-100, ``search_max_distance`` 0.0-1.0, ``max_conclusions`` 1-100, as the
  reference document declares, on session context, peer context and the representation body.
* Peer context has **no** ``tokens`` option: not in the reference OpenAPI, upstream's route, or
  any SDK (Python, TypeScript, Rust). An undeclared query parameter is ignored there as on every
  route (FastAPI, and upstream, do not reject unknown parameters), so ``tokens=10**23`` on peer
  context answers exactly what the same request without it answers.

Missing sessions. Context and summaries of a session that was never created, or was deleted,
answer 200 with nothing in them, as upstream does: upstream's context route never checks the
session, its ``get_both_summaries`` turns "session not found" into ``(None, None)``, and its own
route test ``test_get_session_summaries_nonexistent_session`` asserts the 200 with null
summaries. SDK usage depends on it: ``Session(id, client)`` (and ``honcho.session(id)`` in the
2.0-2.x SDKs, which was lazy) makes no request, so ``.context()`` / ``.summaries()`` may be the
first call on a session nobody created. A read creates nothing, and a deleted session's messages
and summaries are gone from both reads at once.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from honcho import Honcho
from honcho.session import Session

# the reference contract, kept in the checkout (tests/data/README.md)
REFERENCE = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "honcho-v3-openapi.json").read_text()
)
W = "/v3/workspaces/{workspace_id}"
SESSION_CONTEXT = W + "/sessions/{session_id}/context"
PEER_CONTEXT = W + "/peers/{peer_id}/context"
REPRESENTATION = W + "/peers/{peer_id}/representation"
HUGE = str(10**23)
UNPARSEABLE = "9" * 5000
BAD_BODY = {"detail": "There was an error parsing the body"}

BOUNDS = {
    (SESSION_CONTEXT, "tokens"): (0, 100_000),
    (SESSION_CONTEXT, "search_top_k"): (1, 100),
    (SESSION_CONTEXT, "search_max_distance"): (0.0, 1.0),
    (SESSION_CONTEXT, "max_conclusions"): (1, 100),
    (PEER_CONTEXT, "search_top_k"): (1, 100),
    (PEER_CONTEXT, "search_max_distance"): (0.0, 1.0),
    (PEER_CONTEXT, "max_conclusions"): (1, 100),
    (REPRESENTATION, "search_top_k"): (1, 100),
    (REPRESENTATION, "search_max_distance"): (0.0, 1.0),
    (REPRESENTATION, "max_conclusions"): (1, 100),
}


@pytest.fixture
async def http(live_server: str) -> Any:
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        yield client


@pytest.fixture
async def seeded(http: httpx.AsyncClient, ws: str) -> str:
    """A workspace with session s (alice and bob talking) and its base URL."""
    base = f"/v3/workspaces/{ws}"
    messages = [
        {"peer_id": "alice", "content": "I keep bees on the roof"},
        {"peer_id": "bob", "content": "do they sting?"},
    ]
    r = await http.post(f"{base}/sessions/s/messages", json={"messages": messages})
    assert r.status_code == 201, r.text
    return base


def _numbers(schema: dict[str, Any]) -> dict[str, Any] | None:
    for variant in schema.get("anyOf", [schema]):
        if variant.get("type") in ("integer", "number"):
            return variant
    return None


def _declared_numbers(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Numeric query params of the context routes and numeric fields of the representation."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for template in (SESSION_CONTEXT, PEER_CONTEXT):
        for param in doc["paths"]["/v3" + template.removeprefix("/v3")]["get"]["parameters"]:
            numbers = _numbers(param["schema"])
            if param["in"] == "query" and numbers is not None:
                out[(template, param["name"])] = numbers
    body = doc["components"]["schemas"]["PeerRepresentationGet"]["properties"]
    for name, schema in body.items():
        numbers = _numbers(schema)
        if numbers is not None:
            out[(REPRESENTATION, name)] = numbers
    return out


async def test_every_numeric_context_option_is_bounded_both_ways(
    http: httpx.AsyncClient,
) -> None:
    served = _declared_numbers((await http.get("/openapi.json")).json())
    assert set(served) == set(BOUNDS), "a numeric context option without an entry in BOUNDS"
    for key, (low, high) in BOUNDS.items():
        assert (served[key].get("minimum"), served[key].get("maximum")) == (low, high), key
    # Where the reference declares a bound, it is the same one (tokens gains its minimum).
    reference = _declared_numbers(REFERENCE)
    for key, schema in reference.items():
        for bound in ("minimum", "maximum"):
            if bound in schema:
                assert served[key][bound] == schema[bound], (key, bound)
    assert "minimum" not in reference[(SESSION_CONTEXT, "tokens")]


async def test_peer_context_has_no_tokens_option(http: httpx.AsyncClient, seeded: str) -> None:
    doc = (await http.get("/openapi.json")).json()
    reference = REFERENCE
    for document in (doc, reference):
        params = document["paths"]["/v3" + PEER_CONTEXT.removeprefix("/v3")]["get"]["parameters"]
        assert "tokens" not in {p["name"] for p in params}
    plain = await http.get(f"{seeded}/peers/alice/context")
    assert plain.status_code == 200
    for value in (HUGE, "-5", UNPARSEABLE):
        r = await http.get(f"{seeded}/peers/alice/context", params={"tokens": value})
        assert (r.status_code, r.json()) == (200, plain.json())


def _request(base: str, template: str, name: str, value: str) -> dict[str, Any]:
    if template == REPRESENTATION:  # raw JSON text: the number exactly as written
        return {
            "method": "POST",
            "url": f"{base}/peers/alice/representation",
            "content": f'{{"{name}": {value}}}',
            "headers": {"Content-Type": "application/json"},
        }
    path = "sessions/s" if template == SESSION_CONTEXT else "peers/alice"
    params = {name: value}
    if template == SESSION_CONTEXT and name != "tokens":
        params["peer_target"] = "alice"
    return {"method": "GET", "url": f"{base}/{path}/context", "params": params}


@pytest.mark.parametrize(("template", "name"), sorted(BOUNDS), ids=lambda v: str(v))
async def test_out_of_range_numbers_are_422(
    http: httpx.AsyncClient, seeded: str, template: str, name: str
) -> None:
    low, high = BOUNDS[(template, name)]
    step = 1 if isinstance(high, int) else 0.5
    for value in (HUGE, "-" + HUGE, str(low - step), str(high + step), UNPARSEABLE):
        r = await http.request(**_request(seeded, template, name, value))
        if template == REPRESENTATION and value == UNPARSEABLE:
            # Not a number Python's JSON parser accepts (> 4,300 digits): the body is refused
            # before validation, like any unparseable body.
            assert (r.status_code, r.json()) == (400, BAD_BODY)
            continue
        assert r.status_code == 422, (name, value[:30], r.status_code, r.text[:300])
        detail = r.json()["detail"]
        assert isinstance(detail, list) and detail[0]["loc"][-1] == name, detail
    for value in (str(low), str(high)):
        r = await http.request(**_request(seeded, template, name, value))
        assert r.status_code == 200, (name, value, r.text[:300])


async def test_session_context_budget_edges(http: httpx.AsyncClient, seeded: str) -> None:
    url = f"{seeded}/sessions/s/context"
    everything = (await http.get(url)).json()
    assert len(everything["messages"]) == 2
    assert (await http.get(url, params={"tokens": "100000"})).json() == everything
    nothing = await http.get(url, params={"tokens": "0"})
    assert nothing.status_code == 200 and nothing.json()["messages"] == []
    # 0 with a peer view: only the view (here alice's empty representation and no card).
    view = await http.get(url, params={"tokens": "0", "peer_target": "alice"})
    assert view.status_code == 200
    assert view.json()["messages"] == [] and view.json()["peer_representation"] == ""
    for value in ("-1", "-100000", "100001"):
        assert (await http.get(url, params={"tokens": value})).status_code == 422, value


EMPTY_SUMMARIES = {"short_summary": None, "long_summary": None}


def _empty_context(session: str) -> dict[str, Any]:
    return {
        "id": session,
        "messages": [],
        "summary": None,
        "peer_representation": None,
        "peer_card": None,
    }


async def test_missing_session_reads_as_empty_and_creates_nothing(
    http: httpx.AsyncClient, seeded: str
) -> None:
    ghost = f"never-{uuid.uuid4().hex[:8]}"
    r = await http.get(f"{seeded}/sessions/{ghost}/context")
    assert (r.status_code, r.json()) == (200, _empty_context(ghost))
    r = await http.get(f"{seeded}/sessions/{ghost}/context", params={"tokens": "10"})
    assert (r.status_code, r.json()) == (200, _empty_context(ghost))
    r = await http.get(f"{seeded}/sessions/{ghost}/summaries")
    assert (r.status_code, r.json()) == (200, {"id": ghost, **EMPTY_SUMMARIES})
    sessions = await http.post(f"{seeded}/sessions/list", json={})
    assert [s["id"] for s in sessions.json()["items"]] == ["s"]
    # ...and in a workspace that does not exist either.
    nowhere = f"/v3/workspaces/nowhere-{uuid.uuid4().hex[:8]}/sessions/{ghost}"
    r = await http.get(f"{nowhere}/context")
    assert (r.status_code, r.json()) == (200, _empty_context(ghost))
    r = await http.get(f"{nowhere}/summaries")
    assert (r.status_code, r.json()) == (200, {"id": ghost, **EMPTY_SUMMARIES})


async def test_deleted_session_reads_as_empty(http: httpx.AsyncClient, seeded: str) -> None:
    before = (await http.get(f"{seeded}/sessions/s/context")).json()
    assert len(before["messages"]) == 2
    assert (await http.delete(f"{seeded}/sessions/s")).status_code == 202
    r = await http.get(f"{seeded}/sessions/s/context")
    assert (r.status_code, r.json()) == (200, _empty_context("s"))
    r = await http.get(f"{seeded}/sessions/s/summaries")
    assert (r.status_code, r.json()) == (200, {"id": "s", **EMPTY_SUMMARIES})
    # Out-of-range options are still refused for a session that is gone.
    r = await http.get(f"{seeded}/sessions/s/context", params={"tokens": "-1"})
    assert r.status_code == 422


def test_sdk_reads_of_a_session_nobody_created(live_server: str, ws: str) -> None:
    """The official SDK's lazy session objects: the first call may be a read."""
    honcho = Honcho(base_url=live_server, workspace_id=ws, max_retries=0)
    honcho.peer("someone")  # the workspace exists
    lazy = Session("never-created", honcho)
    ctx = lazy.context(tokens=500)
    assert ctx.messages == [] and ctx.summary is None
    summaries = lazy.summaries()
    assert summaries.short_summary is None and summaries.long_summary is None
    assert [s.id for s in honcho.sessions()] == []  # reading created nothing
    # The eager get-or-create path keeps working, then the reads see the session's messages.
    session = honcho.session("real")
    alice = honcho.peer("alice")
    session.add_messages([alice.message("hello")])
    assert [m.content for m in session.context(tokens=500).messages] == ["hello"]
