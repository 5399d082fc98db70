"""Peer cards from conclusions: the ``card`` job queued by derive runs (fake LLM, fresh DB),
and how the model's card is read (pure)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from fakes.fixtures import fake_openai, fake_openai_server  # noqa: F401 - fixtures
from fakes.openai_server import CHAT, FakeOpenAIServer
from honcho_server.deriver.prompts import (
    CARD_FIELD_LABELS,
    CARD_LABEL_SYNONYMS,
    CARD_LABELS,
    CARD_MAX_CHARS,
    CARD_MAX_ENTRIES,
    CardUpdate,
    read_card,
)
from honcho_server.llm.repair import parse_model
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
    expected = [
        "IDENTITY: Alice, a nurse",
        "IDENTITY: Location: Lisbon",
        "ATTRIBUTE: lives in Lisbon",
    ]
    assert await get_card(client, "alice") == expected
    assert await get_card(client, "bob", "alice") == expected
    prompt = fake_openai.state.requests_to(CHAT)[-1].body["messages"]
    assert "alice is a nurse" in prompt[1]["content"] and "IDENTITY:" in prompt[0]["content"]

    # the model finds nothing to keep (an empty list, or only "None"): the old card stays and
    # the jobs succeed
    await post_messages(client, "s", msg("alice", "I also like tea"))
    fake_openai.state.queue_chat(extraction(["alice likes tea"]))
    await drain(app, settings)
    await make_due(app)
    fake_openai.state.queue_chat(card("None", "  "), card())
    await drain(app, settings)
    assert [j.status for j in await jobs(app, "card")] == ["succeeded"] * 4
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


# ---- what small models write ----------------------------------------------------------------

#: (a line as a model wrote it, the entry kept — or None and why it was rejected)
READINGS: list[tuple[str, str | None, str | None]] = [
    # the label as asked, and its case, spacing and separator variants
    ("IDENTITY: Alice, 34", "IDENTITY: Alice, 34", None),
    ("  IDENTITY:   Alice,   34  ", "IDENTITY: Alice, 34", None),
    ("Identity: Alice, 34", "IDENTITY: Alice, 34", None),
    ("identity:Alice, 34", "IDENTITY: Alice, 34", None),
    ("Identity\uff1a Alice, 34", "IDENTITY: Alice, 34", None),
    ("IDENTITY - nurse in Lisbon", "IDENTITY: nurse in Lisbon", None),
    ("Identity \u2014 nurse in Lisbon", "IDENTITY: nurse in Lisbon", None),
    ("IDENTITY = nurse in Lisbon", "IDENTITY: nurse in Lisbon", None),
    ("IDENTITY | nurse in Lisbon", "IDENTITY: nurse in Lisbon", None),
    ("IDENTITY nurse in Lisbon", "IDENTITY: nurse in Lisbon", None),
    ("[IDENTITY] nurse in Lisbon", "IDENTITY: nurse in Lisbon", None),
    ("(Relationship) sister Carla", "RELATIONSHIP: sister Carla", None),
    # markdown, bullets, numbering, quotes
    ("**Identity**: Alice", "IDENTITY: Alice", None),
    ("**Identity:** Alice", "IDENTITY: Alice", None),
    ("*Attribute*: patient", "ATTRIBUTE: patient", None),
    ("`INSTRUCTION`: answer briefly", "INSTRUCTION: answer briefly", None),
    ("- IDENTITY - nurse in Lisbon", "IDENTITY: nurse in Lisbon", None),
    ("* ATTRIBUTE: likes tea", "ATTRIBUTE: likes tea", None),
    ("\u2022 Relationships: sister Carla", "RELATIONSHIP: sister Carla", None),
    ("1. ATTRIBUTE: likes tea", "ATTRIBUTE: likes tea", None),
    ("2) INSTRUCTION: answer in Portuguese", "INSTRUCTION: answer in Portuguese", None),
    ("(3) ATTRIBUTE: likes tea", "ATTRIBUTE: likes tea", None),
    ('"IDENTITY: Alice"', "IDENTITY: Alice", None),
    ("IDENTITY: **Alice**, a nurse", "IDENTITY: Alice, a nurse", None),
    # other names of a category: replaced by it
    ("Who they are: a nurse in Lisbon", "IDENTITY: a nurse in Lisbon", None),
    ("Traits: curious, patient", "ATTRIBUTE: curious, patient", None),
    ("Preference: tea over coffee", "ATTRIBUTE: tea over coffee", None),
    ("Note: prefers tea over coffee", "ATTRIBUTE: prefers tea over coffee", None),
    ("Relations: married to Bob", "RELATIONSHIP: married to Bob", None),
    ("Rules: never call before 9", "INSTRUCTION: never call before 9", None),
    # fields of a category: filed under it, the field name kept
    ("name: Alice", "IDENTITY: Name: Alice", None),
    ("NAME: Alice", "IDENTITY: Name: Alice", None),
    ("Age: 34", "IDENTITY: Age: 34", None),
    ("Location: Lisbon", "IDENTITY: Location: Lisbon", None),
    ("Occupation: nurse", "IDENTITY: Occupation: nurse", None),
    ("Job: nurse", "IDENTITY: Job: nurse", None),
    ("Works at: St Mary's hospital", "IDENTITY: Works at: St Mary's hospital", None),
    ("Career - twenty years in nursing", "IDENTITY: Career: twenty years in nursing", None),
    ("Alice's job: nurse", "IDENTITY: Alice's job: nurse", None),
    ("Hobbies: running, swimming", "ATTRIBUTE: Hobbies: running, swimming", None),
    ("likes: green tea", "ATTRIBUTE: Likes: green tea", None),
    ("Interests: jazz", "ATTRIBUTE: Interests: jazz", None),
    ("Favourite food: sushi", "ATTRIBUTE: Favourite food: sushi", None),
    ("Family: married to Bob", "RELATIONSHIP: Family: married to Bob", None),
    ("Pet: Rex, a beagle", "RELATIONSHIP: Pet: Rex, a beagle", None),
    ("Communication style: short answers", "INSTRUCTION: Communication style: short answers", None),
    # no label we know: a plain sentence is kept under the default label, whole
    (
        "Alice is a nurse who lives in Lisbon.",
        "ATTRIBUTE: Alice is a nurse who lives in Lisbon.",
        None,
    ),
    ("- has a dog named Rex", "ATTRIBUTE: has a dog named Rex", None),
    ("Alice: a nurse from Porto", "ATTRIBUTE: Alice: a nurse from Porto", None),
    ("Alice - a nurse", "ATTRIBUTE: Alice - a nurse", None),
    ("Well-known chef in Porto", "ATTRIBUTE: Well-known chef in Porto", None),
    ("3.5 years in Lisbon", "ATTRIBUTE: 3.5 years in Lisbon", None),
    (
        "See https://alice.example for her blog",
        "ATTRIBUTE: See https://alice.example for her blog",
        None,
    ),
    # unusable: rejected, with the reason
    ("IDENTITY: ...", None, "a placeholder instead of a fact"),
    ("IDENTITY: \u2026", None, "a placeholder instead of a fact"),
    ("Name: unknown", None, "a placeholder instead of a fact"),
    ("ATTRIBUTE: N/A", None, "a placeholder instead of a fact"),
    ("IDENTITY:", None, "a label with no text"),
    ("**Job**:", None, "a label with no text"),
    ("Lisbon", None, "a single word with no label"),
    ("IDENTITY: " + "x" * CARD_MAX_CHARS, None, f"longer than {CARD_MAX_CHARS} characters"),
    ("x " * 100, None, f"longer than {CARD_MAX_CHARS} characters"),
    # saying nothing: skipped, not rejected
    ("", None, None),
    ("   ", None, None),
    ("None", None, None),
    ("(empty)", None, None),
    ("- n/a", None, None),
    ("Nothing to add.", None, None),
    ("---", None, None),
    ("...", None, None),
    ("# Card of Alice", None, None),
    ("Alice's card:", None, None),
]


@pytest.mark.parametrize(("line", "entry", "why"), READINGS, ids=[r[0][:40] for r in READINGS])
def test_read_card_line(line: str, entry: str | None, why: str | None) -> None:
    reading = read_card([line])
    assert reading.entries == ([entry] if entry else [])
    assert reading.rejected == ([(line.strip(), why)] if why else [])
    assert all(len(e) <= CARD_MAX_CHARS for e in reading.entries)
    assert reading.unusable == (why is not None)


def test_every_label_variant_files_under_a_known_label() -> None:
    for table in (CARD_LABEL_SYNONYMS, CARD_FIELD_LABELS):
        assert set(table.values()) == set(CARD_LABELS)
        for name, label in table.items():
            assert read_card([f"{name.title()}: some fact"]).entries[0].startswith(f"{label}: ")


def test_read_card_keeps_the_limits_and_splits_lines() -> None:
    reading = read_card(
        [
            "IDENTITY: Alice\nattribute: likes tea\n\n- Pet: Rex",  # one string, several lines
            "identity:  ALICE",  # a repeat, whatever the case and spacing
            "Identity: alice",
            "ATTRIBUTE:   likes   tea",
            "IDENTITY: ...",
        ]
        + [f"INSTRUCTION: rule {i}" for i in range(CARD_MAX_ENTRIES)]
    )
    assert reading.entries[:3] == [
        "IDENTITY: Alice",
        "ATTRIBUTE: likes tea",
        "RELATIONSHIP: Pet: Rex",
    ]
    assert len(reading.entries) == CARD_MAX_ENTRIES
    assert reading.entries[-1] == f"INSTRUCTION: rule {CARD_MAX_ENTRIES - 4}"
    assert reading.rejected == [("IDENTITY: ...", "a placeholder instead of a fact")]
    assert not reading.unusable  # some entries were usable


def test_read_card_tells_nothing_from_unusable() -> None:
    assert not read_card([]).unusable
    assert not read_card(["None", "", "---"]).unusable  # the model says there is nothing
    unusable = read_card(["IDENTITY: ...", "ATTRIBUTE: ...", "Lisbon", "IDENTITY: " + "y" * 300])
    assert unusable.entries == [] and unusable.unusable
    assert unusable.why() == (
        "a placeholder instead of a fact (2), a single word with no label (1), "
        f'longer than {CARD_MAX_CHARS} characters (1); first: "IDENTITY: ..."'
    )
    assert "first" not in unusable.why(example=False)


@pytest.mark.parametrize(
    ("answer", "entries"),
    [
        ('{"entries": ["IDENTITY: Alice"]}', ["IDENTITY: Alice"]),
        (
            '["IDENTITY: Alice", "ATTRIBUTE: likes tea"]',
            ["IDENTITY: Alice", "ATTRIBUTE: likes tea"],
        ),
        ('{"entries": []}', []),
        ("{}", []),
        ('{"entries": null}', []),
        ('{"entries": "IDENTITY: Alice\\nname: Alice"}', ["IDENTITY: Alice\nname: Alice"]),
        # labels as keys, with no "entries"
        (
            '{"IDENTITY": "Alice, 34", "Hobbies": ["running", "jazz"]}',
            ["IDENTITY: Alice, 34", "Hobbies: running", "Hobbies: jazz"],
        ),
        ('{"name": "Alice", "age": 34}', ["name: Alice", "age: 34"]),
        # wrapped in a key of its own
        ('{"card": ["IDENTITY: Alice"]}', ["IDENTITY: Alice"]),
        ('{"peer_card": {"entries": ["IDENTITY: Alice"]}}', ["IDENTITY: Alice"]),
        # entries as objects, or as a mapping of labels
        (
            '{"entries": [{"label": "IDENTITY", "text": "Alice"}, {"Relationship": "Bob"},'
            ' {"fact": "likes tea"}]}',
            ["IDENTITY: Alice", "Relationship: Bob", "likes tea"],
        ),
        (
            '{"entries": {"IDENTITY": ["Alice", "nurse"], "ATTRIBUTE": "likes tea"}}',
            ["IDENTITY: Alice", "IDENTITY: nurse", "ATTRIBUTE: likes tea"],
        ),
    ],
)
def test_card_answer_shapes(answer: str, entries: list[str]) -> None:
    assert parse_model(answer, CardUpdate).entries == entries


def test_card_schema_is_unchanged() -> None:
    schema: dict[str, Any] = CardUpdate.model_json_schema()
    assert schema["properties"] == {
        "entries": {"items": {"type": "string"}, "title": "Entries", "type": "array"}
    }


# ---- through the worker ---------------------------------------------------------------------


async def test_card_from_a_model_that_ignores_the_labels(
    env: tuple[FastAPI, Client, Settings],  # noqa: F811
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, settings = env
    await post_messages(client, "s", msg("alice", "I'm Alice, 34, a nurse. I have a dog, Rex."))
    fake_openai.state.queue_chat(extraction(["alice is 34", "alice is a nurse"]))
    await drain(app, settings)
    await make_due(app)
    fake_openai.state.queue_chat(
        card(
            "Identity: Alice, 34",
            "name: Alice",
            "**Occupation**: nurse",
            "- Alice has a dog named Rex.",
            "Alice likes long walks by the sea.",
        )
    )
    await drain(app, settings)
    [job] = await jobs(app, "card")
    assert job.status == "succeeded", job.last_error
    assert await get_card(client, "alice") == [
        "IDENTITY: Alice, 34",
        "IDENTITY: Name: Alice",
        "IDENTITY: Occupation: nurse",
        "ATTRIBUTE: Alice has a dog named Rex.",
        "ATTRIBUTE: Alice likes long walks by the sea.",
    ]


async def test_an_unusable_card_answer_is_a_failed_attempt(
    env: tuple[FastAPI, Client, Settings],  # noqa: F811
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    app, client, settings = env
    await client.put("/v3/workspaces/w/peers/a/card", json={"peer_card": ["written by hand"]})
    await post_messages(client, "s", msg("a", "I'm a carpenter"))
    fake_openai.state.queue_chat(extraction(["a is a carpenter"]))
    await drain(app, settings)
    [waiting] = await jobs(app, "card")
    await make_due(app)
    # the model echoes the example of the prompt, every time it is asked
    unusable = card("IDENTITY: ...", "ATTRIBUTE: ...", "carpenter")
    fake_openai.state.queue_chat(*[unusable] * waiting.max_attempts)
    asked = len(fake_openai.state.requests_to(CHAT))
    await drain(app, settings)
    [job] = await jobs(app, "card")
    assert job.status == "failed"
    assert job.attempts == job.max_attempts  # retried, every attempt spent
    assert len(fake_openai.state.requests_to(CHAT)) - asked == job.max_attempts
    assert job.last_error.startswith("LLMOutputInvalid: card of 'a' as seen by 'a'")
    assert (
        "none of the 3 lines the model wrote could be used: a placeholder instead of a fact "
        '(2), a single word with no label (1); first: "IDENTITY: ..."' in job.last_error
    )
    async with app.state.engine.connect() as conn:
        usage = (
            await conn.execute(text("SELECT usage FROM jobs WHERE kind = 'card'"))
        ).scalar_one()
    assert usage["requests"] == job.max_attempts  # every request counted, once
    assert await get_card(client, "a") == ["written by hand"]  # the old card is kept
