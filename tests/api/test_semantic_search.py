"""Hybrid message search over HTTP with the real local model: semantic + keyword lists (RRF).

``semantic`` is an app with EMBED_MESSAGES on and its own worker, so messages get embedded;
``probe`` shares the database and the model but has no worker, and its embedder can be made
to fail and records how many pool connections were checked out while it ran.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text

from honcho_server.app import create_app
from honcho_server.db.repositories.search import SearchRepository, SearchScope
from honcho_server.db.session import unit_of_work
from honcho_server.embeddings import EmbeddingError
from honcho_server.embeddings.local import LocalEmbedder
from honcho_server.services.semantic import QUERY_CACHE
from honcho_server.settings import Settings

DOG = "I adopted a golden retriever last spring."
UNRELATED = [
    "The quarterly budget review is scheduled for Thursday.",
    "Please remember to water the tomatoes in the greenhouse.",
    "My laptop battery drains really fast lately.",
    "We should repaint the kitchen a lighter shade of blue.",
]
PETS = "what pets does she have"


class ProbeEmbedder:
    """The real model, plus a failure switch and a record of connections held during embed."""

    def __init__(self, inner: LocalEmbedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimensions = inner.dimensions
        self.max_input_tokens = inner.max_input_tokens
        self.fail = False
        self.calls = 0
        self.checked_out: list[int] = []
        self.app: FastAPI | None = None

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return self.inner.token_spans(text)

    async def embed(self, texts: Sequence[str], *, background: bool = False) -> list[list[float]]:
        self.calls += 1
        if self.app is not None:
            self.checked_out.append(self.app.state.engine.sync_engine.pool.checkedout())
        if self.fail:
            raise EmbeddingError("the model file vanished")
        return await self.inner.embed(texts)

    async def aclose(self) -> None:
        return None


@pytest.fixture(scope="module")
async def model() -> AsyncIterator[LocalEmbedder]:
    embedder = LocalEmbedder()
    yield embedder
    await embedder.aclose()


async def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture(scope="module")
async def semantic(settings: Settings, model: LocalEmbedder) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"embed_messages": True}), embedder=model)
    async with app.router.lifespan_context(app), await _client(app) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


@pytest.fixture(scope="module")
async def probe_app(settings: Settings, model: LocalEmbedder) -> AsyncIterator[FastAPI]:
    embedder = ProbeEmbedder(model)
    update = {"embed_messages": True, "embedded_worker": False}
    app = create_app(settings.model_copy(update=update), embedder=embedder)
    embedder.app = app
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def probe(
    probe_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    # every probe request runs the model (no query-vector cache): what these tests watch
    monkeypatch.setattr(QUERY_CACHE, "size", 0)
    QUERY_CACHE.clear()
    embedder: ProbeEmbedder = probe_app.state.embedder
    embedder.fail, embedder.calls, embedder.checked_out = False, 0, []
    async with await _client(probe_app) as client:
        client.app = probe_app  # type: ignore[attr-defined]
        yield client
    embedder.fail = False


def _engine(client: httpx.AsyncClient) -> Any:
    return client.app.state.engine  # type: ignore[attr-defined]


async def _add(
    client: httpx.AsyncClient, ws: str, session: str, *msgs: tuple[str, str]
) -> list[str]:
    body = {"messages": [{"peer_id": peer, "content": content} for peer, content in msgs]}
    r = await client.post(f"/v3/workspaces/{ws}/sessions/{session}/messages", json=body)
    assert r.status_code == 201, r.text
    return [m["id"] for m in r.json()]


async def _embedded(client: httpx.AsyncClient, ws: str) -> int:
    async with _engine(client).connect() as conn:
        count = await conn.scalar(
            text(
                "SELECT count(DISTINCT message_id) FROM message_embeddings"
                " WHERE workspace_name = :w"
            ),
            {"w": ws},
        )
    return int(count or 0)


async def _wait_embedded(client: httpx.AsyncClient, ws: str, expected: int) -> None:
    deadline = time.monotonic() + 120  # the queue is shared: other tests may have a backlog
    while (done := await _embedded(client, ws)) < expected:
        assert time.monotonic() < deadline, f"only {done}/{expected} messages embedded"
        await asyncio.sleep(0.05)


async def _search(
    client: httpx.AsyncClient, path: str, query: str, status: int = 200, **body: Any
) -> Any:
    r = await client.post(f"/v3/workspaces/{path}/search", json={"query": query, **body})
    assert r.status_code == status, r.text
    return r.json()


def _contents(found: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in found]


@pytest.fixture
async def pets(semantic: httpx.AsyncClient, ws: str) -> dict[str, str]:
    """``DOG`` by alice in s1 among unrelated messages in s1 and s2, all embedded."""
    ids = await _add(semantic, ws, "s1", ("alice", DOG), ("bob", UNRELATED[0]))
    ids += await _add(semantic, ws, "s2", *(("bob", c) for c in UNRELATED[1:]))
    await _wait_embedded(semantic, ws, len(ids))
    return dict(zip([DOG, *UNRELATED], ids, strict=True))


# --- the semantic list ----------------------------------------------------------------------


async def test_finds_a_message_sharing_no_word_with_the_query(
    semantic: httpx.AsyncClient, ws: str, pets: dict[str, str]
) -> None:
    found = await _search(semantic, ws, PETS)
    assert found[0]["id"] == pets[DOG]
    assert found[0]["content"] == DOG
    # no threshold: every embedded message is a candidate, nearest first
    assert sorted(_contents(found)) == sorted([DOG, *UNRELATED])


async def test_session_and_peer_routes_apply_their_scope(
    semantic: httpx.AsyncClient, ws: str, pets: dict[str, str]
) -> None:
    assert _contents(await _search(semantic, f"{ws}/sessions/s1", PETS)) == [DOG, UNRELATED[0]]
    assert DOG not in _contents(await _search(semantic, f"{ws}/sessions/s2", PETS))
    assert _contents(await _search(semantic, f"{ws}/peers/alice", PETS)) == [DOG]
    assert DOG not in _contents(await _search(semantic, f"{ws}/peers/bob", PETS))


async def test_filters_apply_to_the_semantic_list(
    semantic: httpx.AsyncClient, ws: str, pets: dict[str, str]
) -> None:
    found = await _search(semantic, ws, PETS, filters={"peer_id": "bob"})
    assert DOG not in _contents(found) and len(found) == len(UNRELATED)
    found = await _search(semantic, ws, PETS, filters={"session_id": {"in": ["s2"]}})
    assert sorted(_contents(found)) == sorted(UNRELATED[1:])
    found = await _search(semantic, ws, PETS, filters={"metadata": {"topic": "pets"}})
    assert found == []


async def test_scope_applies_to_the_semantic_list(
    semantic: httpx.AsyncClient, ws: str, pets: dict[str, str]
) -> None:
    async with _engine(semantic).begin() as conn:
        await conn.execute(
            text("INSERT INTO scopes (workspace_name, name) VALUES (:w, 'team')"), {"w": ws}
        )
        await conn.execute(
            text(
                "INSERT INTO scope_sessions (workspace_name, scope_name, session_name) "
                "VALUES (:w, 'team', 's2')"
            ),
            {"w": ws},
        )
    assert sorted(_contents(await _search(semantic, ws, PETS, scope="team"))) == sorted(
        UNRELATED[1:]
    )
    assert await _search(semantic, ws, PETS, scope="nobody") == []


async def test_other_workspaces_and_inactive_sessions_are_absent(
    semantic: httpx.AsyncClient, ws: str, pets: dict[str, str]
) -> None:
    other = f"ws-{uuid.uuid4().hex[:12]}"
    ids = await _add(semantic, other, "s1", ("carol", "My cat sleeps on the piano all day."))
    await _wait_embedded(semantic, other, len(ids))
    assert _contents(await _search(semantic, other, PETS)) == [
        "My cat sleeps on the piano all day."
    ]
    async with _engine(semantic).begin() as conn:
        await conn.execute(
            text("UPDATE sessions SET is_active = false WHERE workspace_name = :w AND name = 's1'"),
            {"w": ws},
        )
    assert sorted(_contents(await _search(semantic, ws, PETS))) == sorted(UNRELATED[1:])


async def test_limit_and_one_result_per_long_message(semantic: httpx.AsyncClient, ws: str) -> None:
    long_dog = " ".join(
        f"Paragraph {i}: our dog loves the park, chases squirrels and naps by the fire."
        for i in range(40)
    )
    ids = await _add(semantic, ws, "s1", ("alice", long_dog), *(("bob", c) for c in UNRELATED))
    await _wait_embedded(semantic, ws, len(ids))
    async with _engine(semantic).connect() as conn:
        chunks = await conn.scalar(
            text(
                "SELECT count(*) FROM message_embeddings e JOIN messages m ON m.id = e.message_id"
                " WHERE m.public_id = :id"
            ),
            {"id": ids[0]},
        )
    assert chunks is not None and chunks > 2
    found = await _search(semantic, ws, "a pet animal", limit=3)
    assert len(found) == 3 and found[0]["id"] == ids[0]
    assert len({m["id"] for m in found}) == 3
    everything = await _search(semantic, ws, "a pet animal", limit=100)
    assert sorted(m["id"] for m in everything) == sorted(ids)


async def test_filtered_hnsw_scan_reaches_rows_behind_many_nearer_ones(
    semantic: httpx.AsyncClient, model: LocalEmbedder, ws: str
) -> None:
    """Another workspace holds 100 messages nearer the query than this workspace's only one.
    A plain HNSW scan stops after ``ef_search`` (40) candidates, all filtered out; the
    iterative scan keeps going. Sorting is disabled so the planner must walk the HNSW index."""
    crowd = f"ws-{uuid.uuid4().hex[:12]}"
    dogs = [("dan", f"My dog number {i} is a golden retriever puppy.") for i in range(100)]
    await _add(semantic, crowd, "s1", *dogs)
    await _add(semantic, ws, "s1", ("alice", "I keep a hamster named Biscuit."))
    await _wait_embedded(semantic, crowd, len(dogs))
    await _wait_embedded(semantic, ws, 1)
    (vector,) = await model.embed(["golden retriever puppy"])
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        if "<=>" in statement:
            statements.append((statement, params))

    engine = _engine(semantic).sync_engine
    factory = semantic.app.state.session_factory  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", record)
    try:
        async with unit_of_work(factory) as db:
            for setting in ("enable_sort", "enable_seqscan", "enable_bitmapscan"):
                await db.execute(text(f"SET LOCAL {setting} = off"))
            repo = SearchRepository(db, SearchScope(workspace=ws, filters={"workspace_id": ws}))
            assert len(await repo.nearest(vector, 10)) == 1
            (statement, params), *_ = statements
            conn = await db.connection()
            plan = (await conn.exec_driver_sql("EXPLAIN " + statement, params)).scalars().all()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert "ix_message_embeddings_hnsw" in "\n".join(plan)


# --- fusion with the keyword lists ----------------------------------------------------------


async def test_keyword_and_semantic_agreement_ranks_first(
    semantic: httpx.AsyncClient, ws: str, pets: dict[str, str]
) -> None:
    found = await _search(semantic, ws, "golden retriever")
    assert found[0]["id"] == pets[DOG]
    found = await _search(semantic, ws, "tomatoes")
    assert found[0]["content"] == UNRELATED[1]


async def test_messages_not_yet_embedded_are_found_by_keywords(
    semantic: httpx.AsyncClient, ws: str, pets: dict[str, str]
) -> None:
    async with _engine(semantic).begin() as conn:
        await conn.execute(
            text(
                "DELETE FROM message_embeddings WHERE message_id ="
                " (SELECT id FROM messages WHERE public_id = :id)"
            ),
            {"id": pets[DOG]},
        )
    assert DOG not in _contents(await _search(semantic, ws, PETS))
    assert _contents(await _search(semantic, ws, "retriever"))[0] == DOG


async def test_empty_query_is_newest_first(
    semantic: httpx.AsyncClient, ws: str, pets: dict[str, str]
) -> None:
    found = await _search(semantic, ws, "   ", limit=2)
    assert _contents(found) == UNRELATED[:-3:-1]


# --- limits, failures, connections ----------------------------------------------------------


async def test_query_over_the_model_limit_is_422(
    semantic: httpx.AsyncClient, model: LocalEmbedder, ws: str
) -> None:
    query = "pets " * (model.max_input_tokens + 1)
    r = await semantic.post(f"/v3/workspaces/{ws}/search", json={"query": query})
    assert r.status_code == 422
    assert r.json() == {"detail": f"Query exceeds maximum token limit of {model.max_input_tokens}."}
    ok = "pets " * model.max_input_tokens
    await _search(semantic, ws, ok)


async def test_embedding_failure_degrades_to_keywords(
    probe: httpx.AsyncClient,
    semantic: httpx.AsyncClient,
    ws: str,
    pets: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    probe.app.state.embedder.fail = True  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, logger="honcho_server.semantic"):
        assert await _search(probe, ws, PETS) == []
        assert _contents(await _search(probe, ws, "retriever")) == [DOG]
    assert any("could not be embedded" in r.getMessage() for r in caplog.records)


async def test_no_connection_is_held_while_embedding(
    probe: httpx.AsyncClient, semantic: httpx.AsyncClient, ws: str, pets: dict[str, str]
) -> None:
    embedder: ProbeEmbedder = probe.app.state.embedder  # type: ignore[attr-defined]
    assert (await _search(probe, ws, PETS))[0]["id"] == pets[DOG]
    assert embedder.calls == 1 and embedder.checked_out == [0]


async def test_no_semantic_list_when_messages_are_not_embedded(
    client: httpx.AsyncClient, semantic: httpx.AsyncClient, ws: str, pets: dict[str, str]
) -> None:
    """EMBED_MESSAGES=false (the shared app): keywords only, even if vectors exist."""
    assert await _search(client, ws, PETS) == []
    assert _contents(await _search(client, ws, "retriever")) == [DOG]
