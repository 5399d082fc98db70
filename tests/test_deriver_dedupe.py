"""Semantic de-duplication of derived conclusions (BEHAVIOUR §14.6 rule 3), with the real
local embedder and a fake LLM on a fresh database."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from fakes.fixtures import fake_openai, fake_openai_server  # noqa: F401 - fixtures
from fakes.openai_server import FakeOpenAIServer
from honcho_server.deriver.dedupe import new_text_wins, specificity
from honcho_server.settings import Settings
from test_deriver_jobs import (  # noqa: F401 - fixtures
    conclusions,
    db_url,
    drain,
    env,
    extraction,
    jobs,
    msg,
    post_messages,
    rows,
)

Client = httpx.AsyncClient


def test_the_more_specific_text_wins() -> None:
    short, long = {"a", "has", "dog"}, {"a", "has", "pet", "dog"}
    assert specificity(long, short) == 14 and specificity(short, long) == 3
    assert new_text_wins(long, short) and not new_text_wins(short, long)
    assert new_text_wins(short, set(short))  # a tie keeps the new wording


async def test_paraphrases_reinforce_instead_of_inserting(
    env: tuple[FastAPI, Client, Settings],  # noqa: F811
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, settings = env
    await post_messages(client, "s", msg("alice", "I have a dog, Rex, and I live in Lisbon"))
    fake_openai.state.queue_chat(extraction(["alice has a dog named Rex", "alice lives in Lisbon"]))
    await drain(app, settings)
    got = await conclusions(app, "alice", "alice")
    assert [(c.content, c.times_derived, c.embedded) for c in got] == [
        ("alice has a dog named Rex", 1, True),
        ("alice lives in Lisbon", 1, True),
    ]
    assert await jobs(app, "embed_conclusions") == []  # stored with their embeddings

    # a more specific paraphrase replaces the stored text and counts it
    await post_messages(client, "s", msg("alice", "Rex is my pet dog"))
    fake_openai.state.queue_chat(extraction(["alice has a pet dog named Rex"]))
    await drain(app, settings)
    got = await conclusions(app, "alice", "alice")
    assert [(c.content, c.times_derived) for c in got] == [
        ("alice has a pet dog named Rex", 2),
        ("alice lives in Lisbon", 1),
    ]
    deleted = await rows(app, "SELECT content FROM conclusions WHERE deleted_at IS NOT NULL")
    assert [r.content for r in deleted] == ["alice has a dog named Rex"]

    # a less specific one only reinforces the stored row
    await post_messages(client, "s", msg("alice", "My dog Rex says hi"))
    fake_openai.state.queue_chat(extraction(["alice has a dog named Rex"]))
    await drain(app, settings)
    got = await conclusions(app, "alice", "alice")
    assert [(c.content, c.times_derived) for c in got] == [
        ("alice has a pet dog named Rex", 3),
        ("alice lives in Lisbon", 1),
    ]
    assert len(await rows(app, "SELECT id FROM conclusions")) == 3


async def test_paraphrases_in_other_sessions_stay_apart(
    env: tuple[FastAPI, Client, Settings],  # noqa: F811
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, settings = env
    await post_messages(client, "s1", msg("a", "I have a dog named Rex"))
    fake_openai.state.queue_chat(extraction(["a has a dog named Rex"]))
    await drain(app, settings)
    await post_messages(client, "s2", msg("a", "Rex is my pet dog"))
    fake_openai.state.queue_chat(extraction(["a has a pet dog named Rex"]))
    await drain(app, settings)
    got = await conclusions(app, "a", "a")
    assert sorted((c.session_name, c.times_derived) for c in got) == [("s1", 1), ("s2", 1)]
