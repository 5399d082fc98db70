"""Embedding jobs claimed, run and completed in batches (issue 17): one claim takes many due
1-message jobs, their messages go to the model in one call, one statement completes them;
a poison message fails alone; a retried job runs alone; what the worker sends per ingested
message is pinned. (A worker SIGKILLed mid-batch: ``tests/faults/test_batch_kills.py``.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from databases import fresh_database
from fakes.fixtures import fake_openai, fake_openai_server  # noqa: F401 - fixtures
from fakes.openai_server import EMBEDDINGS, FakeOpenAIServer
from honcho_server.app import create_app
from honcho_server.db.session import unit_of_work
from honcho_server.queue import EmbedMessages, Probe, QueueRepository, enqueue
from honcho_server.queue.payloads import EMBED_BATCH_JOBS, EMBED_BATCH_SMALL_JOB, batch_rules
from honcho_server.settings import Settings
from honcho_server.worker.context import WorkerServices
from honcho_server.worker.runner import run_once
from statement_counter import counting


@pytest.fixture
async def db_url(database_url: str) -> AsyncIterator[str]:
    async with fresh_database(database_url) as url:
        yield url


def _settings(url: str, embedder: FakeOpenAIServer) -> Settings:
    """The API with message embedding on, no in-process worker (the test runs it), and the
    fake OpenAI-compatible embedder."""
    return Settings(
        _env_file=None,
        database_url=url,
        embedded_worker=False,
        embed_messages=True,
        deriver_enabled=False,
        embedding_provider="openai",
        embedding_base_url=embedder.base_url,
        embedding_api_key="test-key",
        embedding_model="fake-embed",
        embedding_dimensions=384,
    )


async def _ingest_one_by_one(
    client: httpx.AsyncClient, n: int, poison_at: int = -1, workspace: str = "w"
) -> None:
    for i in range(n):
        content = f"message {i} about hiking" + (" POISON" if i == poison_at else "")
        body = {"messages": [{"peer_id": f"u{i % 3}", "content": content}]}
        url = f"/v3/workspaces/{workspace}/sessions/s{i % 4}/messages"
        r = await client.post(url, json=body)
        assert r.status_code == 201, r.text


async def _rows(app: FastAPI, sql: str, **params: Any) -> list[Any]:
    async with app.state.engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


def _services(app: FastAPI, settings: Settings) -> WorkerServices:
    return WorkerServices(settings=settings, embedder=app.state.embedder, outage_cooldown=0.0)


async def test_one_claim_takes_a_batch_of_first_attempts_oldest_first(db_url: str) -> None:
    """Batch size, order, a job tried before claimed alone, a bulk job (more than a few
    messages) alone, other kinds one at a time, and ``ready`` saying whether anything is
    left."""
    settings = Settings(_env_file=None, database_url=db_url, embedded_worker=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        factory = app.state.session_factory
        async with unit_of_work(factory) as db:
            await enqueue(db, Probe(note="p"))
            for i in range(EMBED_BATCH_JOBS + 5):
                await enqueue(db, EmbedMessages(workspace="w", message_ids=[i + 1]))
            big = list(range(100, 100 + EMBED_BATCH_SMALL_JOB + 1))  # a bulk job: alone
            await enqueue(db, EmbedMessages(workspace="w", message_ids=big))
        embed_jobs = "SELECT id FROM jobs WHERE kind = 'embed_messages' ORDER BY id"
        ids = [r.id for r in await _rows(app, embed_jobs)]
        async with unit_of_work(factory) as db:  # this one was tried before: it runs alone
            await db.execute(text("UPDATE jobs SET attempts = 1 WHERE id = :id"), {"id": ids[3]})

        async def claim() -> Any:
            async with unit_of_work(factory) as db:
                return await QueueRepository(db).claim(
                    "w1", prefer=EmbedMessages.priority, batch=batch_rules()
                )

        first = await claim()
        assert [j.id for j in first.jobs] == ids[:3] + ids[4 : EMBED_BATCH_JOBS + 1]
        assert all(j.attempts == 1 for j in first.jobs) and first.ready
        second = await claim()  # the retried one is the oldest left: alone
        assert [(j.id, j.attempts) for j in second.jobs] == [(ids[3], 2)] and second.ready
        third = await claim()
        assert [j.id for j in third.jobs] == ids[EMBED_BATCH_JOBS + 1 : -1] and third.ready
        fourth = await claim()
        assert [j.id for j in fourth.jobs] == ids[-1:] and fourth.ready
        fifth = await claim()
        assert [j.kind for j in fifth.jobs] == ["probe"] and not fifth.ready
        assert await claim() is None


async def test_a_batch_is_one_model_call_and_a_poison_message_fails_alone(
    db_url: str,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    """Twelve 1-message jobs, one message refused by the embedder: the batch's one call
    fails, its jobs run again one at a time in the same step: eleven embedded, the poison
    retried alone until its attempts are spent, then failed with the provider's error."""
    settings = _settings(db_url, fake_openai)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await _ingest_one_by_one(client, 12, poison_at=5)
        fake_openai.state.reject_embedding_inputs_containing = "POISON"
        services = _services(app, settings)
        factory = app.state.session_factory
        assert await run_once(factory, "w1", services, backoff_base=0.0)
        calls = fake_openai.state.requests_to(EMBEDDINGS)
        assert len(calls[0].body["input"]) == 12  # the batch: one call for all twelve
        assert len(calls) == 1 + 12  # then each alone
        embedded = "SELECT count(DISTINCT message_id) FROM message_embeddings"
        assert (await _rows(app, embedded))[0][0] == 11
        states = await _rows(
            app, "SELECT status, attempts, count(*) FROM jobs GROUP BY 1, 2 ORDER BY 1"
        )
        assert [tuple(r) for r in states] == [("succeeded", 1, 11), ("todo", 1, 1)]
        while await run_once(factory, "w1", services, backoff_base=0.0):
            pass  # the poison alone (a retried job is never batched), until it gives up
        [poison] = await _rows(
            app,
            "SELECT status, attempts, max_attempts, last_error FROM jobs WHERE status <> "
            "'succeeded'",
        )
        assert poison.status == "failed" and poison.attempts == poison.max_attempts
        assert "refused" in poison.last_error
        singles = fake_openai.state.requests_to(EMBEDDINGS)[13:]
        assert [len(c.body["input"]) for c in singles] == [1] * (poison.max_attempts - 1)
        assert (await _rows(app, embedded))[0][0] == 11


async def test_a_batch_waits_whole_when_the_embedder_is_down(
    db_url: str,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    """A 500 is the embedder's outage, not the jobs' fault: every job of the batch goes back
    with its attempt given back, and the next claim takes them as a batch again."""
    settings = _settings(db_url, fake_openai)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await _ingest_one_by_one(client, 6)
        fake_openai.state.fail_next(EMBEDDINGS, times=10)  # past the client's own retries
        services = _services(app, settings)
        factory = app.state.session_factory
        assert await run_once(factory, "w1", services, backoff_base=0.0)
        states = await _rows(app, "SELECT status, attempts, count(*) FROM jobs GROUP BY 1, 2")
        assert [tuple(r) for r in states] == [("todo", 0, 6)]
        fake_openai.state.reset()
        assert await run_once(factory, "w1", services, backoff_base=0.0)
        assert len(fake_openai.state.requests_to(EMBEDDINGS)) == 1  # one batch, one call
        states = await _rows(app, "SELECT status, attempts, count(*) FROM jobs GROUP BY 1, 2")
        assert [tuple(r) for r in states] == [("succeeded", 1, 6)]


async def test_statements_per_ingested_message_are_pinned(
    db_url: str,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    """32 one-message ingest requests, then the worker: two batches of 16, each one claim,
    one read of the messages, the chunks replaced (one statement: the DELETE and the INSERT of
    every chunk), one completion; then the claim that finds nothing. Before batching it was
    five statements per message plus a claim that found nothing after each job."""
    settings = _settings(db_url, fake_openai)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            with counting(app.state.engine) as requests:
                # a workspace no earlier test wrote: this process kept no state for it
                await _ingest_one_by_one(client, 2 * EMBED_BATCH_JOBS, workspace="pinned")
        services = _services(app, settings)
        with counting(app.state.engine) as worker:
            while await run_once(app.state.session_factory, "w1", services):
                pass
        embedded = "SELECT count(DISTINCT message_id) FROM message_embeddings"
        assert (await _rows(app, embedded))[0][0] == 2 * EMBED_BATCH_JOBS
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            with counting(app.state.engine) as again:
                await _ingest_one_by_one(client, 2 * EMBED_BATCH_JOBS, workspace="pinned")
    n = 2 * EMBED_BATCH_JOBS
    # the request: one statement writes the message and its jobs (no BEGIN or COMMIT: it is
    # atomic on its own), after a read of the session's state unless the state its last batch
    # by the same author was planned from is kept and still the session's. Each of the 4
    # sessions gets 8 messages by u0, u1, u2, u0, u1, u2, u0, u1: 3 first reads (2 round trips
    # each), 2 kept states gone stale as the others joined (a refused write, a read, a write),
    # 3 writes alone: 15 round trips a session.
    assert requests.round_trips == 4 * 15, requests
    assert (requests.begins, requests.commits) == (0, 0), requests
    assert again.round_trips == n, again  # the members settled: one statement a message
    assert len(worker.statements) == 2 * 4 + 1, worker
    claims = [s for s in worker.statements if "SET status = 'doing'" in s]
    completions = [s for s in worker.statements if "SET status = 'succeeded'" in s]
    assert (len(claims), len(completions)) == (3, 2), worker
    assert worker.round_trips <= 2 * (4 + 6) + 3, worker  # each transaction's BEGIN/COMMIT
