"""Embedding jobs, the embedding-space guard, and `reembed`, on their own databases."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from databases import fresh_database
from fakes.fixtures import fake_openai, fake_openai_server  # noqa: F401 - fixtures
from fakes.openai_server import FakeOpenAIServer
from honcho_server.app import create_app
from honcho_server.db.engine import create_engine, create_session_factory
from honcho_server.db.session import unit_of_work
from honcho_server.embeddings import build_embedder, chunk_text
from honcho_server.services.embedding_space import EmbeddingSpaceMismatch
from honcho_server.services.reembed import reembed
from honcho_server.settings import Settings
from honcho_server.worker.context import WorkerServices
from honcho_server.worker.runner import run_once


def _settings(url: str, **extra: Any) -> Settings:
    return Settings(_env_file=None, database_url=url, embedded_worker=False, **extra)


@pytest.fixture
async def db_url(database_url: str) -> AsyncIterator[str]:
    async with fresh_database(database_url) as url:
        yield url


async def _drain(app: FastAPI, settings: Settings) -> int:
    services = WorkerServices(settings=settings, embedder=app.state.embedder)
    ran = 0
    while await run_once(app.state.session_factory, "test-worker", services):
        ran += 1
    return ran


async def _scalar(app: FastAPI, sql: str, **params: Any) -> Any:
    async with app.state.engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def test_messages_and_conclusions_get_embedded_by_jobs(db_url: str) -> None:
    settings = _settings(db_url, embed_messages=True)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            long_text = " ".join(f"sentence {i} about gardening and tomatoes." for i in range(120))
            r = await c.post(
                "/v3/workspaces/w/sessions/s/messages",
                json={
                    "messages": [
                        {"peer_id": "a", "content": "I adopted a golden retriever"},
                        {"peer_id": "a", "content": "   "},
                        {"peer_id": "b", "content": long_text},
                    ]
                },
            )
            assert r.status_code == 201
            await c.post(
                "/v3/workspaces/w/conclusions",
                json={
                    "conclusions": [
                        {"content": "a owns a dog", "observer_id": "a", "observed_id": "a"}
                    ]
                },
            )
            # messages: queued with the data, nothing embedded yet (never in the request
            # path); manual conclusions: embedded by their create request (read-your-writes)
            assert await _scalar(app, "SELECT count(*) FROM message_embeddings") == 0
            embed_jobs = "SELECT count(*) FROM jobs WHERE kind LIKE 'embed%' AND status = :s"
            assert await _scalar(app, embed_jobs, s="todo") == 1
            embedded = "SELECT count(*) FROM conclusions WHERE embedding IS NOT NULL"
            assert await _scalar(app, embedded) == 1
            await _drain(app, settings)  # (derive jobs, with no LLM configured, wait)
            assert await _scalar(app, embed_jobs, s="succeeded") == 1
    async with app.router.lifespan_context(app):
        chunks = await _scalar(
            app,
            "SELECT array_agg(chunk_index ORDER BY chunk_index) FROM message_embeddings e"
            " JOIN messages m ON m.id = e.message_id WHERE m.peer_name = 'b'",
        )
        assert len(chunks) > 1 and chunks == list(range(len(chunks)))  # long text: several
        assert await _scalar(app, "SELECT count(*) FROM message_embeddings") == len(chunks) + 1
        norm = await _scalar(app, "SELECT vector_norm(embedding) FROM conclusions")
        assert math.isclose(norm, 1.0, rel_tol=1e-3)
        # a paraphrase is near the right message
        nearest = await _scalar(
            app,
            "SELECT m.content FROM message_embeddings e JOIN messages m ON m.id = e.message_id"
            " ORDER BY e.embedding <=> (SELECT embedding FROM conclusions LIMIT 1) LIMIT 1",
        )
        assert nearest == "I adopted a golden retriever"


async def test_each_chunk_gets_its_own_vector_and_a_rerun_replaces_them(db_url: str) -> None:
    """The chunks of a batch are written in one statement from one flat array of floats: each
    stored vector is its own chunk's (no shift between rows), and a job run again (a lease
    that expired under a slow worker) replaces its chunks rather than failing or adding."""
    settings = _settings(db_url, embed_messages=True)
    app = create_app(settings)
    long_text = " ".join(f"line {i} on sailing knots and tides." for i in range(150))
    contents = {"a": "my sister lives in Lisbon", "b": long_text, "c": "tea, not coffee"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            messages = [{"peer_id": p, "content": t} for p, t in contents.items()]
            r = await c.post("/v3/workspaces/w/sessions/s/messages", json={"messages": messages})
            assert r.status_code == 201
        stored = (
            "SELECT m.peer_name, e.chunk_index, e.embedding::text FROM message_embeddings e"
            " JOIN messages m ON m.id = e.message_id ORDER BY 1, 2"
        )

        async def rows() -> list[tuple[str, int, list[float]]]:
            async with app.state.engine.connect() as conn:
                found = (await conn.execute(text(stored))).all()
            return [(p, k, [float(x) for x in v.strip("[]").split(",")]) for p, k, v in found]

        await _drain(app, settings)
        first = await rows()
        embedder = app.state.embedder
        chunks = {
            p: chunk_text(embedder, t, embedder.max_input_tokens) for p, t in contents.items()
        }
        assert [(p, k) for p, k, _ in first] == [
            (p, k) for p in sorted(chunks) for k in range(len(chunks[p]))
        ]
        assert len(chunks["b"]) > 2
        expected = await embedder.embed([chunks[p][k] for p, k, _ in first])
        for (p, k, vector), want in zip(first, expected, strict=True):
            assert max(abs(x - y) for x, y in zip(vector, want, strict=True)) < 1e-4, (p, k)
        async with app.state.engine.begin() as conn:
            await conn.execute(
                text("UPDATE jobs SET status = 'todo' WHERE kind = 'embed_messages'")
            )
        assert await _drain(app, settings) >= 1
        assert await rows() == first


async def test_switching_embedder_refuses_to_start_then_reembed_fixes_it(
    db_url: str,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    local = _settings(db_url)
    app = create_app(local)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            await c.post(
                "/v3/workspaces/w/sessions/s/messages",
                json={"messages": [{"peer_id": "a", "content": "hello there"}]},
            )
            items = [
                {"content": text, "observer_id": "a", "observed_id": "a"}
                for text in ("likes tea", "was deleted")
            ]
            r = await c.post("/v3/workspaces/w/conclusions", json={"conclusions": items})
            assert r.status_code == 201, r.text
            kept, gone = (row["id"] for row in r.json())
            r = await c.delete(f"/v3/workspaces/w/conclusions/{gone}")
            assert r.is_success, r.text
        await _drain(app, local)
        assert (
            await _scalar(
                app, "SELECT vector_dims(embedding) FROM conclusions WHERE id = :i", i=kept
            )
            == 384
        )

    remote = _settings(
        db_url,
        embedding_provider="openai",
        embedding_base_url=fake_openai.base_url,
        embedding_api_key="test-key",
        embedding_model="fake-embed",
        embedding_dimensions=64,
    )
    other = create_app(remote)
    with pytest.raises(EmbeddingSpaceMismatch, match="reembed"):
        async with other.router.lifespan_context(other):
            pass

    embedder = build_embedder(remote)
    engine = create_engine(remote, db_url)
    try:
        async with unit_of_work(create_session_factory(engine)) as db:
            # one job for the message, one for the live conclusion (not the deleted one)
            assert await reembed(db, embedder.name, embedder.dimensions) == (1, 1)
    finally:
        await engine.dispose()
        await embedder.aclose()
    async with other.router.lifespan_context(other):  # starts now
        assert await _drain(other, remote) == 2
        dims = await _scalar(other, "SELECT vector_dims(embedding) FROM message_embeddings")
        assert dims == 64
        vectors = "SELECT vector_dims(embedding) FROM conclusions WHERE id = :i"
        assert await _scalar(other, vectors, i=kept) == 64
        assert await _scalar(other, vectors, i=gone) is None
    assert fake_openai.state.requests_to("/v1/embeddings")
