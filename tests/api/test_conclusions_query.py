"""Semantic conclusion search over HTTP with the real local model: ``/conclusions/query`` and
the semantic share of working representations (representation, peer and session context).

Conclusions are embedded by the shared app's worker; ``probe`` is a second app on the same
database, without a worker, whose embedder can be made to fail and records how many pool
connections were checked out while it ran.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from honcho_server.app import create_app
from honcho_server.embeddings import Embedder, EmbeddingError
from honcho_server.services import semantic
from honcho_server.services.conclusions import PAIR_REQUIRED
from honcho_server.settings import Settings

DOG = "Alice has a golden retriever named Max."
OTHERS = [
    "Alice works night shifts as a nurse.",
    "Alice loves hiking in the mountains.",
    "Alice's favourite food is sushi.",
]
PAIR = {"observer_id": "alice", "observed_id": "alice"}


class ProbeEmbedder:
    """The shared app's model, plus a failure switch and the connections held during embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimensions = inner.dimensions
        self.max_input_tokens = inner.max_input_tokens
        self.fail = False
        self.checked_out: list[int] = []
        self.app: FastAPI | None = None

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return self.inner.token_spans(text)

    async def embed(self, texts: Sequence[str], *, background: bool = False) -> list[list[float]]:
        if self.app is not None:
            self.checked_out.append(self.app.state.engine.sync_engine.pool.checkedout())
        if self.fail:
            raise EmbeddingError("embedding endpoint unreachable")
        return await self.inner.embed(texts)

    async def aclose(self) -> None:
        return None


@pytest.fixture(scope="module")
async def probe_app(app: FastAPI, settings: Settings) -> AsyncIterator[FastAPI]:
    embedder = ProbeEmbedder(app.state.embedder)
    probe = create_app(settings.model_copy(update={"embedded_worker": False}), embedder=embedder)
    embedder.app = probe
    async with probe.router.lifespan_context(probe):
        yield probe


@pytest.fixture
async def probe(
    probe_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    # every probe request runs the model (no query-vector cache): what these tests watch
    monkeypatch.setattr(semantic.QUERY_CACHE, "size", 0)
    semantic.QUERY_CACHE.clear()
    embedder: ProbeEmbedder = probe_app.state.embedder
    embedder.fail, embedder.checked_out = False, []
    transport = httpx.ASGITransport(app=probe_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    embedder.fail = False


def _embedder(probe: httpx.AsyncClient) -> ProbeEmbedder:
    transport = probe._transport
    assert isinstance(transport, httpx.ASGITransport)
    embedder: ProbeEmbedder = transport.app.state.embedder  # type: ignore[attr-defined]
    return embedder


async def _post(client: httpx.AsyncClient, url: str, body: Any, status: int = 201) -> Any:
    r = await client.post(url, json=body)
    assert r.status_code == status, r.text
    return r.json()


async def _create(client: httpx.AsyncClient, ws: str, *items: dict[str, Any]) -> list[str]:
    body = {"conclusions": list(items)}
    return [c["id"] for c in await _post(client, f"/v3/workspaces/{ws}/conclusions", body)]


def _fact(content: str, observer: str = "alice", observed: str = "alice", **kw: Any) -> Any:
    return {"content": content, "observer_id": observer, "observed_id": observed, **kw}


async def _wait_embedded(app: FastAPI, ws: str, expected: int) -> None:
    deadline = time.monotonic() + 120  # the queue is shared: other tests may have a backlog
    sql = text(
        "SELECT count(*) FROM conclusions WHERE workspace_name = :w AND embedding IS NOT NULL"
    )
    while True:
        async with app.state.engine.connect() as conn:
            done = int(await conn.scalar(sql, {"w": ws}) or 0)
        if done >= expected:
            return
        assert time.monotonic() < deadline, f"only {done}/{expected} conclusions embedded"
        await asyncio.sleep(0.05)


async def _setup(client: httpx.AsyncClient, ws: str) -> None:
    for peer in ("alice", "bob"):
        assert (await client.post(f"/v3/workspaces/{ws}/peers", json={"id": peer})).is_success
    for s in ("s1", "s2"):
        assert (await client.post(f"/v3/workspaces/{ws}/sessions", json={"id": s})).is_success


@pytest.fixture
async def facts(client: httpx.AsyncClient, app: FastAPI, ws: str) -> dict[str, str]:
    """alice's view of herself (``DOG`` in s1, ``OTHERS``), plus other collections' facts
    about pets. Returns content -> id, all embedded."""
    await _setup(client, ws)
    ids = await _create(
        client,
        ws,
        _fact(DOG, session_id="s1"),
        *(_fact(c) for c in OTHERS),
        _fact("Bob owns a tabby cat.", "alice", "bob"),
        _fact("Alice is crazy about dogs.", "bob", "alice"),
    )
    await _wait_embedded(app, ws, len(ids))
    return dict(zip([DOG, *OTHERS], ids, strict=False))


async def _query(client: httpx.AsyncClient, ws: str, status: int = 200, **body: Any) -> Any:
    return await _post(client, f"/v3/workspaces/{ws}/conclusions/query", body, status)


async def _distances(app: FastAPI, query: str, contents: list[str]) -> list[float]:
    vectors = np.asarray(await app.state.embedder.embed([query, *contents]))
    return [float(d) for d in 1.0 - vectors[1:] @ vectors[0]]


# --- POST /conclusions/query ----------------------------------------------------------------


async def test_query_returns_the_collection_nearest_first(
    client: httpx.AsyncClient, app: FastAPI, ws: str, facts: dict[str, str]
) -> None:
    found = await _query(client, ws, query="what pets does she have", filters=PAIR)
    assert found[0]["id"] == facts[DOG]
    assert sorted(c["content"] for c in found) == sorted([DOG, *OTHERS])
    assert all((c["observer_id"], c["observed_id"]) == ("alice", "alice") for c in found)
    assert list(found[0]) == [
        "id",
        "content",
        "observer_id",
        "observed_id",
        "session_id",
        "level",
        "source_ids",
        "times_derived",
        "created_at",
    ]
    distances = await _distances(app, "what pets does she have", [c["content"] for c in found])
    assert distances == sorted(distances)


async def test_top_k_and_distance(
    client: httpx.AsyncClient, app: FastAPI, ws: str, facts: dict[str, str]
) -> None:
    query = "what pets does she have"
    everything = await _query(client, ws, query=query, filters=PAIR)
    top2 = await _query(client, ws, query=query, filters=PAIR, top_k=2)
    assert top2 == everything[:2]
    first, second = (await _distances(app, query, [c["content"] for c in everything]))[:2]
    within = await _query(client, ws, query=query, filters=PAIR, distance=(first + second) / 2)
    assert within == everything[:1]
    assert await _query(client, ws, query=query, filters=PAIR, distance=0.0) == []
    assert await _query(client, ws, query=query, filters=PAIR, distance=1.0) == everything


def _c(found: list[dict[str, Any]]) -> list[str]:
    return [c["content"] for c in found]


async def test_pair_keys_and_other_filters(
    client: httpx.AsyncClient, ws: str, facts: dict[str, str]
) -> None:
    query = "what pets does she have"
    aliases = await _query(
        client, ws, query=query, filters={"observer": "alice", "observed": "alice"}
    )
    assert _c(aliases)[0] == DOG and len(aliases) == 4
    other = await _query(client, ws, query=query, filters={**PAIR, "observer_id": "bob"})
    assert _c(other) == ["Alice is crazy about dogs."]
    assert await _query(client, ws, query=query, filters={**PAIR, "level": "deductive"}) == []
    in_s1 = await _query(client, ws, query=query, filters={**PAIR, "session_id": "s1"})
    assert _c(in_s1) == [DOG]
    no_dog = await _query(
        client, ws, query=query, filters={**PAIR, "NOT": [{"content": {"icontains": "retriever"}}]}
    )
    assert sorted(_c(no_dog)) == sorted(OTHERS)
    r = await client.post(
        f"/v3/workspaces/{ws}/conclusions/query",
        json={"query": query, "filters": {**PAIR, "colour": "red"}},
    )
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)


@pytest.mark.parametrize(
    "filters",
    [
        None,
        {},
        {"observer_id": "alice"},
        {"observed": "alice"},
        {"observer_id": "*", "observed_id": "alice"},
        {"observer_id": ["alice"], "observed_id": "alice"},
        {"observer_id": "", "observed_id": "alice"},
    ],
)
async def test_filters_must_name_the_collection(
    client: httpx.AsyncClient, ws: str, filters: Any
) -> None:
    r = await client.post(
        f"/v3/workspaces/{ws}/conclusions/query", json={"query": "pets", "filters": filters}
    )
    assert r.status_code == 422
    assert r.json() == {"detail": PAIR_REQUIRED}
    assert '{"filters": {"observer_id": "alice", "observed_id": "bob"}}' in PAIR_REQUIRED


async def test_deleted_and_unembedded_conclusions_are_absent(
    client: httpx.AsyncClient, app: FastAPI, ws: str, facts: dict[str, str]
) -> None:
    r = await client.delete(f"/v3/workspaces/{ws}/conclusions/{facts[DOG]}")
    assert r.status_code == 204
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE conclusions SET embedding = NULL WHERE id = :id"), {"id": facts[OTHERS[0]]}
        )
    found = await _query(client, ws, query="what pets does she have", filters=PAIR)
    assert sorted(_c(found)) == sorted(OTHERS[1:])


async def test_unknown_workspace_or_collection_is_empty(client: httpx.AsyncClient, ws: str) -> None:
    assert await _query(client, ws, query="pets", filters=PAIR) == []
    assert await _query(client, f"{ws}-none", query="pets", filters=PAIR) == []


async def test_body_validation(client: httpx.AsyncClient, app: FastAPI, ws: str) -> None:
    url = f"/v3/workspaces/{ws}/conclusions/query"
    for body in (
        {"filters": PAIR},
        {"query": "pets", "filters": PAIR, "top_k": 0},
        {"query": "pets", "filters": PAIR, "top_k": 101},
        {"query": "pets", "filters": PAIR, "distance": -0.1},
        {"query": "pets", "filters": PAIR, "distance": 1.5},
        {"query": "pets", "filters": "alice"},
    ):
        r = await client.post(url, json=body)
        assert r.status_code == 422, body
    for blank in ("", "  \n", "\x00"):
        r = await client.post(url, json={"query": blank, "filters": PAIR})
        assert r.status_code == 422 and r.json() == {"detail": "query must not be empty"}
    limit = app.state.embedder.max_input_tokens
    r = await client.post(url, json={"query": "pets " * (limit + 1), "filters": PAIR})
    assert r.status_code == 422
    assert r.json() == {"detail": f"Query exceeds maximum token limit of {limit}."}
    await _query(client, ws, query="pets " * limit, filters=PAIR)


async def test_query_is_not_taken_for_a_conclusion_id(client: httpx.AsyncClient, ws: str) -> None:
    r = await client.get(f"/v3/workspaces/{ws}/conclusions/query")
    assert r.status_code == 404
    spec = (await client.get("/openapi.json")).json()
    post = spec["paths"]["/v3/workspaces/{workspace_id}/conclusions/query"]["post"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/ConclusionQuery")
    schema = spec["components"]["schemas"]["ConclusionQuery"]
    assert list(schema["properties"]) == ["query", "top_k", "distance", "filters"]
    assert schema["required"] == ["query"]
    assert schema["properties"]["top_k"]["default"] == 10


async def test_embedding_failure_is_503_and_no_connection_is_held(
    probe: httpx.AsyncClient, ws: str, facts: dict[str, str]
) -> None:
    found = await _query(probe, ws, query="what pets does she have", filters=PAIR)
    assert found[0]["id"] == facts[DOG]
    assert _embedder(probe).checked_out == [0]
    _embedder(probe).fail = True
    r = await probe.post(
        f"/v3/workspaces/{ws}/conclusions/query",
        json={"query": "what pets does she have", "filters": PAIR},
    )
    assert r.status_code == 503
    detail = r.json()["detail"]
    assert "embedding model is unavailable" in detail and "unreachable" not in detail


# --- read-your-writes: created conclusions are embedded by the create request ---------------


async def test_created_conclusions_are_found_at_once(probe: httpx.AsyncClient, ws: str) -> None:
    """``probe`` has no worker: only the create request itself can have embedded them."""
    await _setup(probe, ws)
    for i in range(5):
        content = f"Alice keeps {i + 2} {['parrots', 'cats', 'goats', 'ferrets', 'hens'][i]}."
        [created] = await _create(probe, ws, _fact(content))
        found = await _query(probe, ws, query=content, filters=PAIR, top_k=1)
        assert [c["id"] for c in found] == [created], f"iteration {i}: not found at once"
    # every embedding (the creates' and the queries') ran with no connection checked out
    assert set(_embedder(probe).checked_out) == {0}


async def test_create_with_the_embedder_down_queues_the_embedding(
    probe: httpx.AsyncClient,
    app: FastAPI,
    ws: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The create still succeeds; its rows wait for a job, which the shared app's worker runs
    (with its own embedder); the log says why."""
    await _setup(probe, ws)
    _embedder(probe).fail = True
    with caplog.at_level("WARNING", logger="honcho_server.services.conclusions"):
        ids = await _create(probe, ws, _fact(DOG), _fact("   "))
    [line] = [r.getMessage() for r in caplog.records if "queued for the worker" in r.message]
    assert f"workspace {ws}: embedding 1 new conclusions" in line
    assert "EmbeddingError: embedding endpoint unreachable" in line
    async with app.state.engine.connect() as conn:
        jobs = (
            await conn.execute(
                text("SELECT payload FROM jobs WHERE workspace_name = :w AND kind = :k"),
                {"w": ws, "k": "embed_conclusions"},
            )
        ).all()
    assert [j.payload["conclusion_ids"] for j in jobs] == [ids]
    _embedder(probe).fail = False
    await _wait_embedded(app, ws, 1)  # the blank one has nothing to embed
    found = await _query(probe, ws, query="what pets does she have", filters=PAIR)
    assert [c["id"] for c in found] == [ids[0]]


async def test_create_embedding_is_bounded(
    probe: httpx.AsyncClient, app: FastAPI, ws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An embedder slower than the budget does not hold the request: the rows are stored
    and queued."""
    from honcho_server.services import conclusions as service

    await _setup(probe, ws)
    embedder = _embedder(probe)
    slow = embedder.embed

    async def stalled(texts: Sequence[str], *, background: bool = False) -> list[list[float]]:
        await asyncio.sleep(30)
        return await slow(texts, background=background)

    monkeypatch.setattr(embedder, "embed", stalled)
    monkeypatch.setattr(service, "EMBED_BUDGET_SECONDS", 0.2)
    started = time.monotonic()
    [created] = await _create(probe, ws, _fact(DOG))
    assert time.monotonic() - started < 5
    monkeypatch.undo()
    await _wait_embedded(app, ws, 1)
    found = await _query(probe, ws, query="what pets does she have", filters=PAIR)
    assert [c["id"] for c in found] == [created]


# --- the semantic share of working representations (§14.7) -----------------------------------


@pytest.fixture
async def history(client: httpx.AsyncClient, app: FastAPI, ws: str) -> str:
    """alice's oldest fact about herself is ``DOG`` (in s1); 9 newer facts (in s2) follow."""
    await _setup(client, ws)
    await _create(client, ws, _fact(DOG, session_id="s1"))
    newer = [
        f"Alice {verb} on day {i}."
        for i, verb in enumerate(
            ["filed taxes", "fixed a bike", "read a novel", "baked bread", "ran 5 km",
             "painted a wall", "wrote a report", "visited Lisbon", "learned chess"]
        )
    ]  # fmt: skip
    await _create(client, ws, *(_fact(c, session_id="s2") for c in newer))
    await _wait_embedded(app, ws, 1 + len(newer))
    return ws


def _facts(markdown: str) -> list[str]:
    return [line.split("] ", 1)[1] for line in markdown.splitlines() if line.startswith("[")]


async def _representation(client: httpx.AsyncClient, ws: str, **body: Any) -> list[str]:
    url = f"/v3/workspaces/{ws}/peers/alice/representation"
    return _facts((await _post(client, url, body, 200))["representation"])


async def test_representation_semantic_share(client: httpx.AsyncClient, history: str) -> None:
    ws = history
    recent = await _representation(client, ws, max_conclusions=3)
    assert len(recent) == 3 and DOG not in recent
    with_query = await _representation(
        client, ws, max_conclusions=3, search_query="what pets does she have", search_top_k=1
    )
    assert DOG in with_query and len(with_query) == 3
    # top_k defaults to total // 3 (at least 1)
    default_k = await _representation(
        client, ws, max_conclusions=3, search_query="what pets does she have"
    )
    assert DOG in default_k and len(default_k) == 3
    # top_k is capped by the total
    only_semantic = await _representation(
        client, ws, max_conclusions=2, search_query="what pets does she have", search_top_k=50
    )
    assert DOG in only_semantic and len(only_semantic) == 2


async def test_representation_max_distance_and_allowlist(
    client: httpx.AsyncClient, history: str
) -> None:
    ws = history
    query = {"search_query": "what pets does she have", "search_top_k": 1, "max_conclusions": 3}
    nothing_near = await _representation(client, ws, **query, search_max_distance=0.0)
    assert DOG not in nothing_near and len(nothing_near) == 2
    assert DOG not in await _representation(client, ws, **query, session_id="s2")
    assert await _representation(client, ws, **query, session_id="s1") == [DOG]
    assert DOG not in await _representation(client, ws, **query, target="bob")


async def test_representation_without_an_embeddable_query_drops_the_semantic_share(
    client: httpx.AsyncClient, probe: httpx.AsyncClient, history: str
) -> None:
    ws = history
    baseline = sorted(await _representation(client, ws, max_conclusions=3))
    limit = _embedder(probe).max_input_tokens
    too_long = await _representation(
        client, ws, max_conclusions=3, search_query="pets " * (limit + 1), search_top_k=1
    )
    assert DOG not in too_long and len(too_long) == 3
    blank = await _representation(client, ws, max_conclusions=3, search_query=" ")
    assert DOG not in blank and len(blank) == 3
    _embedder(probe).fail = True
    failed = await _representation(
        probe, ws, max_conclusions=3, search_query="what pets does she have", search_top_k=1
    )
    assert sorted(failed) == baseline


async def test_peer_and_session_context_semantic_share(
    client: httpx.AsyncClient, probe: httpx.AsyncClient, history: str
) -> None:
    ws = history
    params: dict[str, Any] = {
        "search_query": "what pets does she have",
        "search_top_k": 1,
        "max_conclusions": 3,
    }
    r = await client.get(f"/v3/workspaces/{ws}/peers/alice/context", params=params)
    assert r.status_code == 200, r.text
    assert DOG in _facts(r.json()["representation"])
    r = await client.get(
        f"/v3/workspaces/{ws}/peers/alice/context", params={**params, "search_query": ""}
    )
    assert DOG not in _facts(r.json()["representation"])
    url = f"/v3/workspaces/{ws}/sessions/s2/context"
    r = await client.get(url, params={**params, "peer_target": "alice"})
    assert r.status_code == 200, r.text
    assert DOG in _facts(r.json()["peer_representation"])
    r = await client.get(url, params={**params, "peer_target": "alice", "limit_to_session": True})
    assert DOG not in _facts(r.json()["peer_representation"])
    # each route embeds before its first statement: no connection waits on the model
    embedder = _embedder(probe)
    r = await probe.get(f"/v3/workspaces/{ws}/peers/alice/context", params=params)
    assert DOG in _facts(r.json()["representation"])
    r = await probe.get(url, params={**params, "peer_target": "alice"})
    assert DOG in _facts(r.json()["peer_representation"])
    r = await probe.post(f"/v3/workspaces/{ws}/peers/alice/representation", json=params)
    assert DOG in _facts(r.json()["representation"])
    assert embedder.checked_out == [0, 0, 0]
