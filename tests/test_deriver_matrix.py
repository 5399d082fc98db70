"""Who observes whom (BEHAVIOUR §8.3), on fresh databases, in process with ``run_once``.

Three-peer sessions: a member with ``observe_others`` true learns about the others, one with
it false does not; a sender with ``observe_me`` false is observed by nobody; a member that left
the session stops observing (even for messages queued before it left); observing is per
session; every conclusion records its session and source messages.

The fake LLM answers extraction prompts from the request itself (one fact per new message of
the observed peer), so the order in which jobs run does not matter.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from databases import fresh_database
from fakes.openai_server import CHAT, FakeOpenAI, FakeOpenAIServer
from honcho_server.app import create_app
from honcho_server.settings import Settings
from worker_support import drain, rows

Client = httpx.AsyncClient
LINE = re.compile(r"^\[[^\]]+\] ([^:]+): (.*)$")


def fact(observed: str, content: str) -> str:
    return f"{observed} said {content}"


@dataclass
class ExtractingFake(FakeOpenAI):
    """One explicit fact per new message of the observed peer; anything else is a card."""

    def _next_chat_reply(self) -> str:  # type: ignore[override]
        with self._lock:
            body = self.requests[-1].body  # the request being answered (no await between)
        system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
        if system.startswith("You maintain a short profile card"):
            return json.dumps({"entries": []})
        if not system.startswith("You keep a long-term memory"):
            return "a summary"
        observed = system.split("a person called ", 1)[1].split(".", 1)[0]
        new = user.split("New messages to learn from:", 1)[1]
        found = [m for m in (LINE.match(x.strip()) for x in new.splitlines()) if m]
        facts = [fact(observed, m.group(2)) for m in found if m.group(1) == observed]
        return json.dumps({"explicit": facts, "deductive": []})


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(ExtractingFake()) as server:
        yield server


@pytest.fixture
async def env(
    database_url: str, fake: FakeOpenAIServer
) -> AsyncIterator[tuple[FastAPI, Client, Settings]]:
    fake.state.reset()
    async with fresh_database(database_url) as url:
        settings = Settings(
            _env_file=None,
            database_url=url,
            embedded_worker=False,
            embed_messages=False,
            summary_enabled=False,
            peer_card_enabled=False,
            llm_base_url=fake.base_url,
            llm_model="fake-model",
            llm_api_key="test",
            llm_max_retries=0,
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                yield app, client, settings


async def about(app: FastAPI, observed: str, observer: str | None = None) -> list[Any]:
    """Live conclusions about ``observed`` (by ``observer``, or by anyone)."""
    return await rows(
        app,
        "SELECT observer, observed, content, session_name, source_message_ids FROM conclusions"
        " WHERE observed = :d AND (CAST(:o AS text) IS NULL OR observer = :o)"
        " AND deleted_at IS NULL ORDER BY observer, content",
        d=observed,
        o=observer,
    )


async def session(client: Client, name: str, peers: dict[str, dict[str, Any]]) -> None:
    r = await client.post("/v3/workspaces/w/sessions", json={"id": name, "peers": peers})
    assert r.status_code in (200, 201), r.text


async def post(client: Client, name: str, *messages: tuple[str, str]) -> list[dict[str, Any]]:
    body = {"messages": [{"peer_id": p, "content": c} for p, c in messages]}
    r = await client.post(f"/v3/workspaces/w/sessions/{name}/messages", json=body)
    assert r.status_code == 201, r.text
    return list(r.json())


async def failed_jobs(app: FastAPI) -> list[Any]:
    return await rows(app, "SELECT kind, last_error FROM jobs WHERE status = 'failed'")


THREE = {
    "alice": {},
    "bob": {"observe_others": True},
    "carol": {"observe_others": False},
}


async def test_observe_others_decides_who_learns_about_the_sender(
    env: tuple[FastAPI, Client, Settings],
) -> None:
    app, client, settings = env
    await session(client, "s", THREE)
    sent = await post(
        client, "s", ("alice", "I grow tomatoes"), ("carol", "I sail"), ("bob", "I ski")
    )
    await drain(app, settings)
    assert await failed_jobs(app) == []

    alice_fact = fact("alice", "I grow tomatoes")
    got = await about(app, "alice")
    assert [(c.observer, c.content) for c in got] == [("alice", alice_fact), ("bob", alice_fact)]
    assert await about(app, "alice", "carol") == []  # observe_others false
    # carol is observed by herself and bob, never by alice (observe_others unset = false)
    assert [c.observer for c in await about(app, "carol")] == ["bob", "carol"]
    # bob is observed only by himself: nobody else has observe_others
    assert [c.observer for c in await about(app, "bob")] == ["bob"]

    # every conclusion records its session and its source message
    ids = {m["content"]: m["id"] for m in sent}
    for c in await rows(app, "SELECT * FROM conclusions"):
        assert c.session_name == "s"
        said = c.content.split(" said ", 1)[1]
        assert c.source_message_ids == [ids[said]]
    # and the API shows the same: bob's view of alice, with its session
    r = await client.post(
        "/v3/workspaces/w/conclusions/list",
        json={"filters": {"observer_id": "bob", "observed_id": "alice"}},
    )
    assert r.status_code == 200
    assert [(c["content"], c["session_id"]) for c in r.json()["items"]] == [(alice_fact, "s")]


async def test_observe_me_false_means_nobody_learns_about_the_sender(
    env: tuple[FastAPI, Client, Settings],
    fake: FakeOpenAIServer,
) -> None:
    app, client, settings = env
    peers = {**THREE, "carol": {"observe_others": False, "observe_me": False}}
    await session(client, "s", peers)
    await post(client, "s", ("carol", "I sail every weekend"), ("alice", "I grow tomatoes"))
    observed = [
        j.payload["observed"]
        for j in await rows(app, "SELECT payload FROM jobs WHERE kind = 'derive'")
    ]
    assert observed == ["alice"]  # carol's message queues no derivation at all
    await drain(app, settings)
    assert await failed_jobs(app) == []
    assert await about(app, "carol") == []
    assert [c.observer for c in await about(app, "alice")] == ["alice", "bob"]
    prompts = [r.body["messages"][0]["content"] for r in fake.state.requests_to(CHAT)]
    assert not any("a person called carol" in p for p in prompts)

    # also when observe_me is false on the peer itself (no membership override)
    r = await client.put(
        "/v3/workspaces/w/peers/dave", json={"configuration": {"observe_me": False}}
    )
    assert r.status_code in (200, 201), r.text
    await session(client, "s2", {"dave": {}, "bob": {"observe_others": True}})
    await post(client, "s2", ("dave", "I collect stamps"))
    await drain(app, settings)
    assert await about(app, "dave") == []


async def test_a_member_that_left_stops_observing(
    env: tuple[FastAPI, Client, Settings],
) -> None:
    app, client, settings = env
    await session(client, "s", THREE)
    await post(client, "s", ("alice", "I grow tomatoes"))
    await drain(app, settings)
    assert [c.observer for c in await about(app, "alice")] == ["alice", "bob"]

    r = await client.request("DELETE", "/v3/workspaces/w/sessions/s/peers", json=["bob"])
    assert r.status_code == 200, r.text
    await post(client, "s", ("alice", "I moved to Porto"))
    await drain(app, settings)
    assert await failed_jobs(app) == []
    got = [(c.observer, c.content) for c in await about(app, "alice")]
    assert ("alice", fact("alice", "I moved to Porto")) in got
    assert [c for o, c in got if o == "bob"] == [fact("alice", "I grow tomatoes")]


async def test_a_member_that_left_before_the_job_ran_does_not_observe(
    env: tuple[FastAPI, Client, Settings],
) -> None:
    """The job was queued while bob was a member; observers are read when it runs."""
    app, client, settings = env
    await session(client, "s", THREE)
    await post(client, "s", ("alice", "I grow tomatoes"))
    [job] = await rows(app, "SELECT payload FROM jobs WHERE kind = 'derive'")
    assert job.payload["observers"] == ["alice", "bob"]
    r = await client.request("DELETE", "/v3/workspaces/w/sessions/s/peers", json=["bob"])
    assert r.status_code == 200, r.text
    await drain(app, settings)
    assert await failed_jobs(app) == []
    assert [c.observer for c in await about(app, "alice")] == ["alice"]


async def test_observing_is_per_session(
    env: tuple[FastAPI, Client, Settings],
) -> None:
    app, client, settings = env
    await session(client, "s1", THREE)
    await session(client, "s2", {"alice": {}, "carol": {}})
    await post(client, "s1", ("alice", "I grow tomatoes"))
    await post(client, "s2", ("alice", "I hate mornings"))
    await drain(app, settings)
    assert await failed_jobs(app) == []

    by_bob = await about(app, "alice", "bob")
    assert [(c.content, c.session_name) for c in by_bob] == [
        (fact("alice", "I grow tomatoes"), "s1")
    ]
    mine = await about(app, "alice", "alice")
    assert sorted((c.content, c.session_name) for c in mine) == [
        (fact("alice", "I grow tomatoes"), "s1"),
        (fact("alice", "I hate mornings"), "s2"),
    ]
    assert await about(app, "alice", "carol") == []

    # bob joining s2 later observes only what comes after (the watermark is alice's, per session)
    r = await client.post(
        "/v3/workspaces/w/sessions/s2/peers", json={"bob": {"observe_others": True}}
    )
    assert r.status_code == 200, r.text
    await post(client, "s2", ("alice", "I drink coffee"))
    await drain(app, settings)
    by_bob = await about(app, "alice", "bob")
    assert sorted((c.content, c.session_name) for c in by_bob) == [
        (fact("alice", "I drink coffee"), "s2"),
        (fact("alice", "I grow tomatoes"), "s1"),
    ]
