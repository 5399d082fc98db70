"""Automatic dreams: queued by derive runs (threshold, cooldown, one pending), due after the
idle timeout, postponed by new messages from the observed peer (state in the database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from fakes.fixtures import fake_openai, fake_openai_server  # noqa: F401 - fixtures
from fakes.openai_server import CHAT, FakeOpenAIServer
from test_deriver_jobs import extraction, msg, post_messages
from test_dream_jobs import (  # noqa: F401 - fixtures
    Env,
    db_url,
    deduction,
    dream_env,
    dream_jobs,
    dream_state,
    induction,
    live,
)
from worker_support import drain

IDLE_MINUTES = 10.0


@pytest.fixture
async def env(db_url: str, fake_openai: FakeOpenAIServer) -> AsyncIterator[Env]:  # noqa: F811
    async with dream_env(
        db_url,
        fake_openai,
        dream_document_threshold=3,
        dream_idle_timeout_minutes=IDLE_MINUTES,
        dream_min_hours_between_dreams=1.0,
        peer_card_enabled=False,  # no card jobs in the way
    ) as e:
        yield e


async def execute(app: FastAPI, sql: str, **params: Any) -> None:
    async with app.state.engine.begin() as conn:
        await conn.execute(text(sql), params)


async def say(env: Env, fake: FakeOpenAIServer, content: str, *facts: str) -> None:
    """alice says ``content``; the deriver extracts ``facts``."""
    app, client, settings = env
    await post_messages(client, "s", msg("alice", content))
    fake.state.queue_chat(extraction(list(facts)))
    await drain(app, settings)


def near(at: datetime, expected: datetime, slack: float = 30.0) -> bool:
    return abs((at - expected).total_seconds()) < slack


async def test_threshold_idle_postponement_and_cooldown(
    env: Env,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, settings = env
    await client.post("/v3/workspaces/w/sessions", json={"id": "s", "peers": {"alice": {}}})
    await say(
        env,
        fake_openai,
        "I'm a nurse and I live in Lisbon",
        "alice is a nurse",
        "alice lives in Lisbon",
    )
    assert await dream_jobs(app) == []  # 2 < 3

    await say(env, fake_openai, "I run every morning", "alice runs every morning")
    [job] = await dream_jobs(app)
    assert job.status == "todo" and job.payload["automatic"] is True
    assert (job.payload["observer"], job.payload["observed"], job.payload["dream_type"]) == (
        "alice",
        "alice",
        "omni",
    )
    assert near(job.scheduled_at, datetime.now(UTC) + timedelta(minutes=IDLE_MINUTES))

    await say(env, fake_openai, "and I swim", "alice swims", "alice likes water", "alice is fit")
    assert len(await dream_jobs(app)) == 1  # one pending dream per collection

    # due now, but alice has just written: it moves itself to the end of her quiet period
    await execute(app, "UPDATE jobs SET scheduled_at = now() WHERE kind = 'dream'")
    asked = len(fake_openai.state.requests_to(CHAT))
    await drain(app, settings)
    [job] = await dream_jobs(app)
    assert job.status == "todo" and job.attempts == 0 and job.last_error.startswith("waiting:")
    assert near(job.scheduled_at, datetime.now(UTC) + timedelta(minutes=IDLE_MINUTES))
    assert len(fake_openai.state.requests_to(CHAT)) == asked

    # alice has been quiet for an hour: the dream runs, stamped with her latest session
    await execute(app, "UPDATE messages SET created_at = now() - interval '1 hour'")
    await execute(app, "UPDATE jobs SET scheduled_at = now() WHERE kind = 'dream'")
    fake_openai.state.queue_chat(
        deduction(deductions=[{"conclusion": "alice works shifts", "premises": ["c1"]}]),
        induction(),
    )
    await drain(app, settings)
    [job] = await dream_jobs(app)
    assert job.status == "succeeded", job.last_error
    assert [(r.level, r.session_name) for r in await live(app) if r.level != "explicit"] == [
        ("deductive", "s")
    ]
    assert [s.last_dream_count for s in await dream_state(app)] == [6]

    # three more facts within the cooldown: no dream
    await say(env, fake_openai, "news", "alice has a cat", "alice bakes bread", "alice sings")
    assert len(await dream_jobs(app)) == 1
    # the cooldown is over: the next derive run queues one (6 new since the last dream)
    await execute(app, "UPDATE dream_state SET last_dream_at = now() - interval '2 hours'")
    await say(env, fake_openai, "more", "alice reads novels", "alice paints", "alice cooks")
    assert [j.status for j in await dream_jobs(app)] == ["succeeded", "todo"]


async def test_counts_live_conclusions_and_respects_dream_enabled(
    env: Env,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, _ = env
    await client.post(
        "/v3/workspaces/w/sessions",
        json={"id": "s", "peers": {"alice": {}}, "configuration": {"dream": {"enabled": False}}},
    )
    await say(env, fake_openai, "facts", "alice is a nurse", "alice lives in Lisbon", "alice runs")
    assert await dream_jobs(app) == []  # dreams are off for this session

    r = await client.put(
        "/v3/workspaces/w/sessions/s", json={"configuration": {"dream": {"enabled": True}}}
    )
    assert r.status_code == 200, r.text
    # deleted conclusions do not count (upstream quirk 16)
    for row in await live(app):
        r = await client.delete(f"/v3/workspaces/w/conclusions/{row.id}")
        assert r.status_code == 204
    await say(env, fake_openai, "more", "alice swims", "alice sings")
    assert await dream_jobs(app) == []  # 2 live, 3 deleted
    await say(env, fake_openai, "more", "alice bakes")
    assert len(await dream_jobs(app)) == 1


async def test_manual_request_brings_a_waiting_automatic_dream_forward(
    env: Env,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, settings = env
    await client.post("/v3/workspaces/w/sessions", json={"id": "s", "peers": {"alice": {}}})
    await say(env, fake_openai, "facts", "alice is a nurse", "alice lives in Lisbon", "alice runs")
    [job] = await dream_jobs(app)
    assert job.payload["automatic"] is True
    r = await client.post(
        "/v3/workspaces/w/schedule_dream", json={"observer": "alice", "dream_type": "omni"}
    )
    assert r.status_code == 204
    [job] = await dream_jobs(app)
    assert job.payload["automatic"] is False and near(job.scheduled_at, datetime.now(UTC))
    # a second manual request changes nothing
    r = await client.post(
        "/v3/workspaces/w/schedule_dream",
        json={"observer": "alice", "dream_type": "omni", "session_id": "s"},
    )
    assert r.status_code == 204
    [again] = await dream_jobs(app)
    assert again.payload == job.payload and again.scheduled_at == job.scheduled_at
    # manual dreams do not wait for alice to be quiet
    fake_openai.state.queue_chat(deduction(), induction())
    await drain(app, settings)
    assert [j.status for j in await dream_jobs(app)] == ["succeeded"]
