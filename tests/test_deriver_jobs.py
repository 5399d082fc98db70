"""The deriver's jobs on their own databases: derive (conclusions) and summarize, against the
fake OpenAI server through the real ``openai`` client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from databases import fresh_database
from fakes.fixtures import fake_openai, fake_openai_server  # noqa: F401 - fixtures
from fakes.openai_server import CHAT, FakeOpenAIServer, ScriptedError
from honcho_server.app import create_app
from honcho_server.settings import Settings
from worker_support import drain, rows

Client = httpx.AsyncClient


def _settings(url: str, fake: FakeOpenAIServer | None) -> Settings:
    llm: dict[str, Any] = {}
    if fake is not None:
        llm = {
            "llm_base_url": fake.base_url,
            "llm_model": "fake-model",
            "llm_api_key": "test",
            "llm_max_retries": 0,
        }
    return Settings(_env_file=None, database_url=url, embedded_worker=False, **llm)


@pytest.fixture
async def db_url(database_url: str) -> AsyncIterator[str]:
    async with fresh_database(database_url) as url:
        yield url


@pytest.fixture
async def env(
    db_url: str,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> AsyncIterator[tuple[FastAPI, Client, Settings]]:
    settings = _settings(db_url, fake_openai)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield app, client, settings


async def jobs(app: FastAPI, kind: str) -> list[Any]:
    return await rows(
        app,
        "SELECT status, payload, attempts, max_attempts, last_error FROM jobs"
        " WHERE kind = :kind ORDER BY id",
        kind=kind,
    )


async def conclusions(app: FastAPI, observer: str, observed: str) -> list[Any]:
    return await rows(
        app,
        "SELECT level, content, session_name, premises, source_message_ids, times_derived,"
        " embedding IS NOT NULL AS embedded FROM conclusions WHERE observer = :o"
        " AND observed = :d AND deleted_at IS NULL ORDER BY level, content",
        o=observer,
        d=observed,
    )


def extraction(explicit: list[str], deductive: list[tuple[str, list[str]]] = ()) -> str:  # type: ignore[assignment]
    return json.dumps(
        {
            "explicit": explicit,
            "deductive": [{"conclusion": c, "premises": p} for c, p in deductive],
        }
    )


async def post_messages(client: Client, session: str, *messages: dict[str, Any]) -> list[Any]:
    r = await client.post(
        f"/v3/workspaces/w/sessions/{session}/messages", json={"messages": list(messages)}
    )
    assert r.status_code == 201, r.text
    return list(r.json())


def msg(peer: str, content: str, **extra: Any) -> dict[str, Any]:
    return {"peer_id": peer, "content": content, **extra}


async def test_conversation_derives_for_sender_and_observers(
    env: tuple[FastAPI, Client, Settings],
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, settings = env
    r = await client.post(
        "/v3/workspaces/w/sessions",
        json={"id": "s", "peers": {"alice": {}, "bob": {"observe_others": True}}},
    )
    assert r.status_code in (200, 201)
    sent = await post_messages(
        client, "s", msg("alice", "I adopted a dog named Rex"), msg("bob", "Nice! What breed?")
    )
    derive = await jobs(app, "derive")
    assert [(j.payload["observed"], j.payload["observers"]) for j in derive] == [
        ("alice", ["alice", "bob"]),
        ("bob", ["bob"]),
    ]
    fake_openai.state.queue_chat(
        extraction(
            ["alice has a dog named Rex", "alice has a dog named Rex "],
            [("alice is a pet owner", ["alice has a dog named Rex"])],
        ),
        extraction([]),
    )
    await drain(app, settings)
    assert [j.status for j in await jobs(app, "derive")] == ["succeeded", "succeeded"]
    async with app.state.engine.connect() as conn:  # LLM usage is recorded on each job
        usage = (
            (await conn.execute(text("SELECT usage FROM jobs WHERE kind = 'derive' ORDER BY id")))
            .scalars()
            .all()
        )
    assert all(u["requests"] == 1 and u["prompt_tokens"] > 0 for u in usage), usage
    for observer in ("alice", "bob"):
        got = await conclusions(app, observer, "alice")
        assert [(c.level, c.content, c.session_name) for c in got] == [
            ("deductive", "alice is a pet owner", "s"),
            ("explicit", "alice has a dog named Rex", "s"),
        ]
        assert got[0].premises == ["alice has a dog named Rex"]
        assert got[1].source_message_ids == [sent[0]["id"]]
        assert all(c.embedded for c in got)  # embedding jobs ran too
    assert await conclusions(app, "alice", "bob") == []
    assert await conclusions(app, "bob", "bob") == []
    # the prompt: about alice, bob's message as context only
    prompt = fake_openai.state.requests_to(CHAT)[0].body["messages"]
    assert "alice" in prompt[0]["content"] and "I adopted a dog named Rex" in prompt[1]["content"]
    # the API shows them
    r = await client.post(
        "/v3/workspaces/w/conclusions/list",
        json={"filters": {"observer_id": "bob", "observed_id": "alice"}},
    )
    assert r.status_code == 200 and r.json()["total"] == 2

    # exact duplicates reinforce instead of inserting; a new run reads only new messages
    await post_messages(client, "s", msg("alice", "Rex is a beagle, by the way"))
    fake_openai.state.queue_chat(extraction(["  ALICE has a dog named rex", "Rex is a beagle"]))
    await drain(app, settings)
    for observer in ("alice", "bob"):
        got = await conclusions(app, observer, "alice")
        assert [(c.content, c.times_derived) for c in got if c.level == "explicit"] == [
            ("Rex is a beagle", 1),
            ("alice has a dog named Rex", 2),
        ]
    user_prompt = fake_openai.state.requests_to(CHAT)[-1].body["messages"][1]["content"]
    new_part = user_prompt.split("New messages to learn from:")[1]
    assert "beagle" in new_part and "adopted" not in new_part
    assert "alice has a dog named Rex" in user_prompt  # already known


async def test_unobserved_and_disabled_senders_get_no_derive_job(
    env: tuple[FastAPI, Client, Settings],
) -> None:
    app, client, _ = env
    await client.post(
        "/v3/workspaces/w/sessions", json={"id": "s", "peers": {"a": {"observe_me": False}}}
    )
    await client.put("/v3/workspaces/w/peers/b", json={"configuration": {"observe_me": False}})
    await post_messages(client, "s", msg("a", "hi"), msg("b", "hello"))
    await post_messages(
        client,
        "s",
        msg("c", "off", configuration={"reasoning": {"enabled": False}}),
        msg("d", "on"),
    )
    await client.post(
        "/v3/workspaces/w/sessions",
        json={"id": "quiet", "configuration": {"reasoning": {"enabled": False}}},
    )
    await post_messages(client, "quiet", msg("e", "nothing to learn"))
    await client.put("/v3/workspaces/w2", json={"configuration": {"reasoning": {"enabled": False}}})
    r = await client.post(
        "/v3/workspaces/w2/sessions/s/messages", json={"messages": [msg("f", "nope")]}
    )
    assert r.status_code == 201
    assert [j.payload["observed"] for j in await jobs(app, "derive")] == ["d"]


async def test_message_level_off_is_never_derived(
    env: tuple[FastAPI, Client, Settings],
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, settings = env
    await post_messages(
        client,
        "s",
        msg("a", "secret stuff", configuration={"reasoning": {"enabled": False}}),
        msg("a", "I live in Porto"),
    )
    fake_openai.state.queue_chat(extraction(["a lives in Porto"]))
    await drain(app, settings)
    new_part = fake_openai.state.requests_to(CHAT)[0].body["messages"][1]["content"]
    assert "Porto" in new_part.split("New messages")[1]
    assert "secret stuff" not in new_part.split("New messages")[1]
    assert [c.content for c in await conclusions(app, "a", "a")] == ["a lives in Porto"]


async def test_without_llm_jobs_wait_then_run_once_configured(
    db_url: str,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    bare = _settings(db_url, None)
    app = create_app(bare)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await post_messages(client, "s", *[msg("a", f"fact {i}") for i in range(20)])
        await drain(app, bare)
        waiting = await jobs(app, "derive") + await jobs(app, "summarize")
        # never claimed by a worker without an LLM: no attempt spent, nothing to report
        assert [(j.status, j.attempts, j.last_error) for j in waiting] == [
            ("todo", 0, None),
            ("todo", 0, None),
        ]
        assert fake_openai.state.requests_to(CHAT) == []
        # configured now (and the wait is over)
        async with app.state.engine.begin() as conn:
            await conn.execute(text("UPDATE jobs SET scheduled_at = now()"))
        fake_openai.state.queue_chat(extraction(["a knows 20 facts"]), "a listed facts 0 to 19.")
        await drain(app, _settings(db_url, fake_openai))
        done = await jobs(app, "derive") + await jobs(app, "summarize")
        assert [j.status for j in done] == ["succeeded", "succeeded"]


async def test_llm_outage_is_retried(
    env: tuple[FastAPI, Client, Settings],
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, settings = env
    await post_messages(client, "s", msg("a", "I play the cello"))
    fake_openai.state.fail_next(CHAT, times=2)
    fake_openai.state.queue_chat(extraction(["a plays the cello"]))
    await drain(app, settings)
    [job] = await jobs(app, "derive")
    # an outage is waiting, not failure: the two 500s spent no attempt
    assert (job.status, job.attempts) == ("succeeded", 1)
    assert [c.content for c in await conclusions(app, "a", "a")] == ["a plays the cello"]


async def test_invalid_output_fails_visibly_and_the_worker_goes_on(
    env: tuple[FastAPI, Client, Settings],
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, settings = env
    await post_messages(client, "s", msg("a", "I play the cello"))
    async with app.state.engine.begin() as conn:
        await conn.execute(text("UPDATE jobs SET max_attempts = 2 WHERE kind = 'derive'"))
    fake_openai.state.queue_chat(*["this is not json"] * 4)
    await drain(app, settings)
    [job] = await jobs(app, "derive")
    assert (job.status, job.attempts) == ("failed", 2)
    assert "LLMOutputInvalid" in job.last_error
    assert await conclusions(app, "a", "a") == []
    # the worker keeps going: the next message of the unit is derived (from the watermark)
    await post_messages(client, "s", msg("a", "and the piano"))
    fake_openai.state.queue_chat(extraction(["a plays the cello", "a plays the piano"]))
    await drain(app, settings)
    assert len(await conclusions(app, "a", "a")) == 2


async def test_twenty_messages_make_a_short_summary(
    env: tuple[FastAPI, Client, Settings],
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, settings = env
    await client.post(
        "/v3/workspaces/w/sessions",
        json={"id": "s", "configuration": {"reasoning": {"enabled": False}}},
    )
    sent = await post_messages(
        client, "s", *[msg("a" if i % 2 else "b", f"line {i}") for i in range(19)]
    )
    assert await jobs(app, "summarize") == []
    sent += await post_messages(client, "s", msg("a", "line 19"))
    assert len(await jobs(app, "summarize")) == 1
    fake_openai.state.queue_chat(ScriptedError(status=500), "   ")  # outage, then a blank answer
    await drain(app, settings, limit=2)
    [job] = await jobs(app, "summarize")
    assert job.status == "todo" and "blank" in job.last_error
    assert (await client.get("/v3/workspaces/w/sessions/s/summaries")).json()[
        "short_summary"
    ] is None
    fake_openai.state.queue_chat("a and b counted lines from 0 to 19.")
    await drain(app, settings)
    summaries = (await client.get("/v3/workspaces/w/sessions/s/summaries")).json()
    short = summaries["short_summary"]
    assert short["content"] == "a and b counted lines from 0 to 19."
    assert short["message_id"] == sent[-1]["id"] and short["token_count"] > 0
    assert summaries["long_summary"] is None
    ctx = (await client.get("/v3/workspaces/w/sessions/s/context", params={"tokens": 2000})).json()
    assert ctx["summary"]["content"] == short["content"]
    prompt = fake_openai.state.requests_to(CHAT)[-1].body["messages"][1]["content"]
    assert "line 0" in prompt and "line 19" in prompt


async def test_message_custom_instructions_reach_the_prompt(
    env: tuple[FastAPI, Client, Settings],
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, settings = env
    await client.put(
        "/v3/workspaces/w/sessions/s",
        json={"configuration": {"reasoning": {"custom_instructions": "Session-wide focus."}}},
    )
    await post_messages(
        client,
        "s",
        msg(
            "a",
            "I fly to Tokyo on Friday",
            configuration={"reasoning": {"custom_instructions": "Only record travel plans."}},
        ),
    )
    fake_openai.state.queue_chat(extraction(["a flies to Tokyo on Friday"]))
    await drain(app, settings)
    system = fake_openai.state.requests_to(CHAT)[0].body["messages"][0]["content"]
    assert "Only record travel plans." in system and "Session-wide focus." not in system
    await post_messages(client, "s", msg("a", "I also like sushi"))
    fake_openai.state.queue_chat(extraction(["a likes sushi"]))
    await drain(app, settings)
    system = fake_openai.state.requests_to(CHAT)[-1].body["messages"][0]["content"]
    assert "Session-wide focus." in system  # a message without its own falls back


async def test_a_new_fact_supersedes_the_known_one_it_replaces(
    env: tuple[FastAPI, Client, Settings],
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    """The model names a known fact the new one replaces: the old conclusion is kept, linked
    to the new one, and no longer shown as known; unknown or unstored texts change nothing."""
    app, client, settings = env
    await post_messages(client, "s", msg("a", "I live in Porto"), msg("a", "I have a cat"))
    fake_openai.state.queue_chat(extraction(["a lives in Porto", "a has a cat"]))
    await drain(app, settings)
    await post_messages(client, "s", msg("a", "I moved to Lisbon last week"))
    updates = [
        {"outdated": "A lives in Porto.", "current": "a moved to Lisbon"},  # case, punctuation
        {"outdated": "a owns a horse", "current": "a moved to Lisbon"},  # not a known fact
        {"outdated": "a has a cat", "current": "a has a dog"},  # current not stored
    ]
    answer = json.loads(extraction(["a moved to Lisbon"]))
    fake_openai.state.queue_chat(json.dumps(answer | {"updates": updates}))
    await drain(app, settings)
    prompt = fake_openai.state.requests_to(CHAT)[-1].body["messages"]
    assert '"updates"' in prompt[0]["content"] and "a lives in Porto" in prompt[1]["content"]
    found = await rows(
        app,
        "SELECT o.content, n.content AS replaced_by FROM conclusions o"
        " LEFT JOIN conclusions n ON n.id = o.superseded_by"
        " WHERE o.observer = 'a' AND o.observed = 'a' ORDER BY o.content",
    )
    assert [(r.content, r.replaced_by) for r in found] == [
        ("a has a cat", None),
        ("a lives in Porto", "a moved to Lisbon"),
        ("a moved to Lisbon", None),
    ]
    # the next derivation no longer sees the outdated fact as known
    await post_messages(client, "s", msg("a", "Lisbon is sunny"))
    fake_openai.state.queue_chat(extraction([]))
    await drain(app, settings)
    known = fake_openai.state.requests_to(CHAT)[-1].body["messages"][1]["content"]
    assert "a moved to Lisbon" in known and "a lives in Porto" not in known
