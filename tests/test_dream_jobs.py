"""Dream jobs on a seeded memory: the worker run in-process against the fake OpenAI server
(structured answers scripted with ``queue_chat``), each test on a fresh database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from databases import fresh_database
from fakes.fixtures import fake_openai, fake_openai_server  # noqa: F401 - fixtures
from fakes.openai_server import CHAT, FakeOpenAIServer
from honcho_server.app import create_app
from honcho_server.settings import Settings
from worker_support import drain, rows

Client = httpx.AsyncClient
Env = tuple[FastAPI, Client, Settings]


@asynccontextmanager
async def dream_env(
    url: str, fake: FakeOpenAIServer | None, **overrides: Any
) -> AsyncIterator[Env]:
    """An app (no embedded worker) on ``url`` whose LLM is ``fake`` (none if None)."""
    llm: dict[str, Any] = {}
    if fake is not None:
        llm = {
            "llm_base_url": fake.base_url,
            "llm_model": "fake-model",
            "llm_api_key": "test",
            "llm_max_retries": 0,
        }
    settings = Settings(_env_file=None, database_url=url, embedded_worker=False, **llm, **overrides)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield app, client, settings


@pytest.fixture
async def db_url(database_url: str) -> AsyncIterator[str]:
    async with fresh_database(database_url) as url:
        yield url


@pytest.fixture
async def env(db_url: str, fake_openai: FakeOpenAIServer) -> AsyncIterator[Env]:  # noqa: F811
    async with dream_env(db_url, fake_openai) as e:
        yield e


async def seed(client: Client, observer: str, observed: str, *facts: str) -> list[str]:
    """Peers, session ``s``, and one explicit conclusion per fact, each in its own request
    (so they are stored in this order); returns their ids."""
    await client.post(
        "/v3/workspaces/w/sessions",
        json={"id": "s", "peers": {observer: {}, observed: {}}},
    )
    ids = []
    for fact in facts:
        r = await client.post(
            "/v3/workspaces/w/conclusions",
            json={
                "conclusions": [
                    {
                        "content": fact,
                        "observer_id": observer,
                        "observed_id": observed,
                        "session_id": "s",
                    }
                ]
            },
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()[0]["id"])
    return ids


async def schedule(client: Client, **body: Any) -> None:
    r = await client.post("/v3/workspaces/w/schedule_dream", json=body)
    assert r.status_code == 204, r.text


def deduction(**answer: Any) -> str:
    return json.dumps(
        {"deductions": [], "duplicates": [], "updates": [], "contradictions": []} | answer
    )


def induction(*patterns: dict[str, Any]) -> str:
    return json.dumps({"patterns": list(patterns)})


async def dream_jobs(app: FastAPI) -> list[Any]:
    return await rows(
        app,
        "SELECT status, payload, attempts, last_error, usage, scheduled_at FROM jobs"
        " WHERE kind = 'dream' ORDER BY id",
    )


async def live(app: FastAPI, observer: str = "alice", observed: str = "alice") -> list[Any]:
    return await rows(
        app,
        "SELECT id, level, content, session_name, premises, times_derived, internal_metadata,"
        " embedding IS NOT NULL AS embedded FROM conclusions WHERE observer = :o"
        " AND observed = :d AND deleted_at IS NULL AND superseded_by IS NULL"
        " ORDER BY level, content",
        o=observer,
        d=observed,
    )


async def dream_state(app: FastAPI) -> list[Any]:
    return await rows(app, "SELECT observer, observed, last_dream_count FROM dream_state")


async def card(client: Client, peer: str = "alice") -> list[str] | None:
    r = await client.get(f"/v3/workspaces/w/peers/{peer}/card")
    assert r.status_code == 200, r.text
    entries: list[str] | None = r.json()["peer_card"]
    return entries


async def test_omni_dream_consolidates_a_seeded_memory(
    env: Env,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, settings = env
    ids = await seed(
        client,
        "alice",
        "alice",
        "alice lives in Porto",  # c1, outdated by c4
        "alice has a dog",  # c2, a less specific duplicate of c3
        "alice has a dog named Rex",  # c3
        "alice moved to Lisbon in March",  # c4
        "alice runs every morning",  # c5
        "alice swims at weekends",  # c6
    )
    await client.put("/v3/workspaces/w/peers/alice/card", json={"peer_card": ["IDENTITY: Al"]})
    await schedule(client, observer="alice", dream_type="omni", session_id="s")
    fake_openai.state.queue_chat(
        deduction(
            deductions=[
                {"conclusion": "alice is a pet owner", "premises": ["c2"]},
                {"conclusion": "alice has two dogs", "premises": ["c3", "c42"]},  # invented id
                {"conclusion": "no premises at all", "premises": []},
            ],
            duplicates=[{"ids": ["c2", "c3"]}],
            updates=[{"outdated": "c1", "current": "c4"}],
            peer_card=["IDENTITY: alice, lives in Lisbon", "ATTRIBUTE: ..."],  # a placeholder
        ),
        # induction sees c3 c4 c5 c6 as c1..c4 and the new deduction as c5
        induction(
            {
                "pattern": "alice exercises regularly",
                "pattern_type": "Habit",
                "confidence": "HIGH",
                "sources": ["c3", "c4"],
            },
            {"pattern": "alice likes one thing", "sources": ["c1"]},  # one source only
            {"pattern": "alice is made up", "sources": ["c1", "c9"]},  # invented id
        ),
    )
    await drain(app, settings)

    [job] = await dream_jobs(app)
    assert job.status == "succeeded", job.last_error
    assert job.usage["requests"] == 2 and job.usage["prompt_tokens"] > 0
    prompts = [r.body["messages"] for r in fake_openai.state.requests_to(CHAT)]
    assert (
        "c1 [" in prompts[0][1]["content"]
        and "(explicit) alice lives in Porto" in (prompts[0][1]["content"])
    )
    assert "IDENTITY: Al" in prompts[0][1]["content"]  # the current card is shown
    assert "alice lives in Porto" not in prompts[1][1]["content"]  # deleted before induction
    assert "c5 [" in prompts[1][1]["content"] and "alice is a pet owner" in prompts[1][1]["content"]

    got = {(r.level, r.content): r for r in await live(app)}
    assert sorted(got) == [
        ("deductive", "alice is a pet owner"),
        ("explicit", "alice has a dog named Rex"),
        ("explicit", "alice moved to Lisbon in March"),
        ("explicit", "alice runs every morning"),
        ("explicit", "alice swims at weekends"),
        ("inductive", "alice exercises regularly"),
    ]
    kept = got[("explicit", "alice has a dog named Rex")]
    assert kept.times_derived == 2
    assert kept.internal_metadata["merged_from"] == [{"id": ids[1], "content": "alice has a dog"}]
    deduced = got[("deductive", "alice is a pet owner")]
    assert deduced.premises == ["alice has a dog"]  # the text cited survives the merge
    assert deduced.internal_metadata["premise_ids"] == [ids[2]]  # mapped to the kept row
    pattern = got[("inductive", "alice exercises regularly")]
    assert pattern.internal_metadata["pattern_type"] == "habit"
    assert pattern.internal_metadata["confidence"] == "high"
    assert pattern.internal_metadata["sources"] == [
        "alice runs every morning",
        "alice swims at weekends",
    ]
    assert pattern.internal_metadata["source_ids"] == [ids[4], ids[5]]
    for row in (deduced, pattern):
        assert row.session_name == "s" and row.embedded

    assert await card(client) == ["IDENTITY: alice, lives in Lisbon"]
    assert [(s.observer, s.observed, s.last_dream_count) for s in await dream_state(app)] == [
        ("alice", "alice", 4)
    ]
    r = await client.post("/v3/workspaces/w/peers/alice/representation", json={})
    text = r.json()["representation"]
    assert "## Deductive Observations" in text and "   - alice has a dog" in text
    assert " **Pattern** [high]: alice exercises regularly" in text
    assert "alice lives in Porto" not in text
    # the outdated fact is kept, linked to the one that replaced it, and shown on request
    [old] = await rows(
        app, "SELECT superseded_by, deleted_at FROM conclusions WHERE id = :id", id=ids[0]
    )
    assert old.superseded_by == ids[3] and old.deleted_at is None
    listed = await client.post("/v3/workspaces/w/conclusions/list", json={})
    assert ids[0] not in [c["id"] for c in listed.json()["items"]]
    shown = await client.post(
        "/v3/workspaces/w/conclusions/list", json={"filters": {"superseded": True}}
    )
    assert [c["content"] for c in shown.json()["items"]] == ["alice lives in Porto"]
    r = await client.get(f"/v3/workspaces/w/conclusions/{ids[0]}")
    assert r.status_code == 200  # still readable by id


async def test_contradictions_and_an_update_pointing_backwards(
    env: Env,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    """Card creation off: the card is neither shown nor written. An 'update' whose current
    fact is older than the outdated one is ignored; an undecidable conflict is recorded."""
    app, client, settings = env
    r = await client.post(
        "/v3/workspaces", json={"id": "w", "configuration": {"peer_card": {"create": False}}}
    )
    assert r.status_code == 201, r.text
    ids = await seed(client, "bob", "alice", "alice is vegetarian", "alice loves steak")
    await client.put(
        "/v3/workspaces/w/peers/bob/card", params={"target": "alice"}, json={"peer_card": ["x"]}
    )
    await schedule(client, observer="bob", observed="alice", dream_type="omni")
    fake_openai.state.queue_chat(
        deduction(
            updates=[{"outdated": "c2", "current": "c1"}],  # c1 is the older one
            contradictions=[
                {"statement": "alice's diet is unclear", "ids": ["c1", "c2"]},
                {"statement": "one-sided", "ids": ["c1"]},
            ],
            peer_card=["IDENTITY: should not be written"],
        ),
        induction(),
    )
    await drain(app, settings)
    assert [j.status for j in await dream_jobs(app)] == ["succeeded"]
    prompt = fake_openai.state.requests_to(CHAT)[0].body["messages"]
    assert "peer_card" not in prompt[0]["content"] and "peer card" not in prompt[1]["content"]
    got = {(r.level, r.content): r for r in await live(app, "bob", "alice")}
    assert sorted(got) == [
        ("contradiction", "alice's diet is unclear"),
        ("explicit", "alice is vegetarian"),
        ("explicit", "alice loves steak"),
    ]
    conflict = got[("contradiction", "alice's diet is unclear")]
    assert conflict.internal_metadata["source_ids"] == ids
    assert conflict.session_name is None  # a manual dream without a session
    r = await client.get("/v3/workspaces/w/peers/bob/card", params={"target": "alice"})
    assert r.json()["peer_card"] == ["x"]


async def test_card_refresh_rebuilds_or_revises_the_card(
    env: Env,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, settings = env
    await seed(client, "alice", "alice", "alice is a nurse", "alice lives in Lisbon")
    await client.put(
        "/v3/workspaces/w/peers/alice/card", json={"peer_card": ["IDENTITY: old entry"]}
    )
    await schedule(client, observer="alice", dream_type="card_refresh")
    answer = json.dumps({"entries": ["IDENTITY: nurse in Lisbon", "junk"]})
    fake_openai.state.queue_chat(answer)
    await drain(app, settings)
    assert await card(client) == ["IDENTITY: nurse in Lisbon"]
    prompt = fake_openai.state.requests_to(CHAT)[-1].body["messages"][1]["content"]
    assert "IDENTITY: old entry" in prompt and "alice is a nurse" in prompt

    await schedule(client, observer="alice", dream_type="card_refresh", rebuild=True)
    fake_openai.state.queue_chat(json.dumps({"entries": ["IDENTITY: rebuilt"]}))
    await drain(app, settings)
    assert await card(client) == ["IDENTITY: rebuilt"]
    prompt = fake_openai.state.requests_to(CHAT)[-1].body["messages"][1]["content"]
    assert "nurse in Lisbon" not in prompt and "alice lives in Lisbon" in prompt
    # conclusions and dream state untouched
    assert len(await live(app)) == 2 and await dream_state(app) == []
    assert [j.status for j in await dream_jobs(app)] == ["succeeded", "succeeded"]


async def test_configuration_skips_dreams_without_asking_the_model(
    env: Env,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, settings = env
    await seed(client, "alice", "alice", "alice is a nurse", "alice plays chess")
    # dreams off for the session the dream is about; card creation off for the workspace
    r = await client.put(
        "/v3/workspaces/w/sessions/s", json={"configuration": {"dream": {"enabled": False}}}
    )
    assert r.status_code == 200, r.text
    await schedule(client, observer="alice", dream_type="omni", session_id="s")
    await drain(app, settings)
    r = await client.put(
        "/v3/workspaces/w", json={"configuration": {"peer_card": {"create": False}}}
    )
    assert r.status_code == 200, r.text
    await schedule(client, observer="alice", dream_type="card_refresh")
    await drain(app, settings)
    assert [j.status for j in await dream_jobs(app)] == ["succeeded", "succeeded"]
    assert fake_openai.state.requests_to(CHAT) == []
    assert await dream_state(app) == [] and len(await live(app)) == 2
    assert await card(client) is None

    # a manual dream without that session runs
    fake_openai.state.queue_chat(deduction(), induction())
    await schedule(client, observer="alice", dream_type="omni")
    await drain(app, settings)
    assert len(fake_openai.state.requests_to(CHAT)) == 2
    assert [s.last_dream_count for s in await dream_state(app)] == [2]


async def test_invalid_model_output_leaves_a_failed_job(
    env: Env,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, settings = env
    await seed(client, "alice", "alice", "alice is a nurse", "alice plays chess")
    await schedule(client, observer="alice", dream_type="omni")
    fake_openai.state.queue_chat(*["this is not JSON at all"] * 20)
    await drain(app, settings)
    [job] = await dream_jobs(app)
    assert job.status == "failed" and job.attempts == 5
    assert "LLMOutputInvalid" in job.last_error
    assert len(await live(app)) == 2 and await dream_state(app) == []


async def test_without_an_llm_the_dream_waits(db_url: str) -> None:
    async with dream_env(db_url, None) as (app, client, settings):
        await seed(client, "alice", "alice", "alice is a nurse")
        await schedule(client, observer="alice", dream_type="omni")
        await drain(app, settings)
        [job] = await dream_jobs(app)
        # never claimed by a worker without an LLM: no attempt spent
        assert (job.status, job.attempts, job.last_error) == ("todo", 0, None)
        assert await dream_state(app) == []


async def test_a_session_deleted_before_the_dream_is_not_stamped(
    env: Env,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, settings = env
    await seed(client, "alice", "alice", "alice runs", "alice swims")
    await client.post("/v3/workspaces/w/sessions", json={"id": "t", "peers": {"alice": {}}})
    await schedule(client, observer="alice", dream_type="omni", session_id="t")
    r = await client.delete("/v3/workspaces/w/sessions/t")
    assert r.status_code in (200, 202, 204), r.text
    fake_openai.state.queue_chat(
        deduction(deductions=[{"conclusion": "alice is sporty", "premises": ["c1", "c2"]}]),
        induction(),
    )
    await drain(app, settings)
    assert [(r.content, r.session_name) for r in await live(app) if r.level == "deductive"] == [
        ("alice is sporty", None)
    ]
