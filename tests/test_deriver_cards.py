"""Peer cards from conclusions: the ``card`` job queued by derive runs (fake LLM, fresh DB)."""

from __future__ import annotations

import json

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from fakes.fixtures import fake_openai, fake_openai_server  # noqa: F401 - fixtures
from fakes.openai_server import CHAT, FakeOpenAIServer
from honcho_server.settings import Settings
from test_deriver_jobs import (  # noqa: F401 - fixtures
    db_url,
    drain,
    env,
    extraction,
    jobs,
    msg,
    post_messages,
)

Client = httpx.AsyncClient


async def make_due(app: FastAPI) -> None:
    async with app.state.engine.begin() as conn:
        await conn.execute(text("UPDATE jobs SET scheduled_at = now() WHERE status = 'todo'"))


def card(*entries: str) -> str:
    return json.dumps({"entries": list(entries)})


async def get_card(client: Client, peer: str, target: str | None = None) -> list[str] | None:
    params = {"target": target} if target else {}
    r = await client.get(f"/v3/workspaces/w/peers/{peer}/card", params=params)
    assert r.status_code == 200, r.text
    entries: list[str] | None = r.json()["peer_card"]
    return entries


async def test_conversation_builds_a_normalised_card(
    env: tuple[FastAPI, Client, Settings],  # noqa: F811
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, settings = env
    await client.post(
        "/v3/workspaces/w/sessions",
        json={"id": "s", "peers": {"alice": {}, "bob": {"observe_others": True}}},
    )
    await post_messages(client, "s", msg("alice", "I'm Alice, a nurse in Lisbon. I have a dog."))
    fake_openai.state.queue_chat(extraction(["alice is a nurse", "alice lives in Lisbon"]))
    await drain(app, settings)
    waiting = await jobs(app, "card")
    assert sorted((j.status, j.payload["observer"], j.payload["observed"]) for j in waiting) == [
        ("todo", "alice", "alice"),
        ("todo", "bob", "alice"),
    ]
    await make_due(app)
    answer = card(
        "IDENTITY: Alice, a nurse",
        " IDENTITY: alice,  A NURSE ",
        "LOCATION: Lisbon",
        "ATTRIBUTE: lives in Lisbon",
        "RELATIONSHIP: " + "x" * 300,
    )
    fake_openai.state.queue_chat(answer, answer)
    await drain(app, settings)
    assert [j.status for j in await jobs(app, "card")] == ["succeeded", "succeeded"]
    expected = ["IDENTITY: Alice, a nurse", "ATTRIBUTE: lives in Lisbon"]
    assert await get_card(client, "alice") == expected
    assert await get_card(client, "bob", "alice") == expected
    prompt = fake_openai.state.requests_to(CHAT)[-1].body["messages"]
    assert "alice is a nurse" in prompt[1]["content"] and "IDENTITY:" in prompt[0]["content"]

    # only facts that are not cards: nothing valid comes back → the old card stays
    await post_messages(client, "s", msg("alice", "I also like tea"))
    fake_openai.state.queue_chat(extraction(["alice likes tea"]))
    await drain(app, settings)
    await make_due(app)
    fake_openai.state.queue_chat(card("likes tea"), card())
    await drain(app, settings)
    assert await get_card(client, "alice") == expected
    assert await get_card(client, "bob", "alice") == expected


async def test_manual_card_is_kept_until_new_conclusions_arrive(
    env: tuple[FastAPI, Client, Settings],  # noqa: F811
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, settings = env
    await post_messages(client, "s", msg("a", "I live in Porto"))
    fake_openai.state.queue_chat(extraction(["a lives in Porto"]))
    await drain(app, settings)
    # the card job is waiting; a card set by hand after the conclusion wins
    r = await client.put("/v3/workspaces/w/peers/a/card", json={"peer_card": ["written by hand"]})
    assert r.status_code == 200, r.text
    await make_due(app)
    asked = len(fake_openai.state.requests_to(CHAT))
    await drain(app, settings)
    assert [j.status for j in await jobs(app, "card")] == ["succeeded"]
    assert len(fake_openai.state.requests_to(CHAT)) == asked  # no LLM call at all
    assert await get_card(client, "a") == ["written by hand"]

    # new evidence: the card is revised
    await post_messages(client, "s", msg("a", "I'm a carpenter"))
    fake_openai.state.queue_chat(extraction(["a is a carpenter"]))
    await drain(app, settings)
    await make_due(app)
    fake_openai.state.queue_chat(card("IDENTITY: carpenter in Porto"))
    await drain(app, settings)
    assert await get_card(client, "a") == ["IDENTITY: carpenter in Porto"]
    prompt = fake_openai.state.requests_to(CHAT)[-1].body["messages"][1]["content"]
    assert "written by hand" in prompt and "a is a carpenter" in prompt


async def test_no_card_job_when_card_creation_is_off_or_nothing_explicit(
    env: tuple[FastAPI, Client, Settings],  # noqa: F811
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, settings = env
    await client.post(
        "/v3/workspaces/w/sessions",
        json={"id": "off", "configuration": {"peer_card": {"create": False}}},
    )
    await post_messages(client, "off", msg("a", "I live in Porto"))
    await post_messages(client, "s", msg("b", "hello"))
    fake_openai.state.queue_chat(extraction(["a lives in Porto"]), extraction([]))
    await drain(app, settings)
    assert await jobs(app, "card") == []
