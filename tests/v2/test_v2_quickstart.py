"""Acceptance: the v2 quickstart of ``honcho-ai`` 1.x runs unchanged against a fresh ``serve``
(auth off, the default) whose embedded worker runs the real deriver, the LLM being the fake
server. ``poll_deriver_status`` (v2's ``deriver/status``) waits for the derivation: what it
derived is there when it returns."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from v2_support import CLIENTS, run_client

from fakes.openai_server import FakeOpenAIServer
from honcho_server.db.migrate import upgrade
from sdk.test_sdk_queue_webhooks import _admin
from servers import start_server, stop_server

FACT = "alice greeted bob"


@pytest.fixture
def fresh_server(
    database_url: str,
    tmp_path: Path,
    fake_openai_server: FakeOpenAIServer,
) -> Iterator[str]:
    """A fresh ``serve``: its own empty database, default settings but for the LLM."""
    name = f"v2qs_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(database_url, f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    env = {
        "DATABASE_URL": url,
        "LOG_LEVEL": "WARNING",
        "LLM_BASE_URL": fake_openai_server.base_url,
        "LLM_MODEL": "fake-model",
        "LLM_API_KEY": "test",
    }
    process, base_url = start_server(env, tmp_path / "server.log")
    try:
        yield base_url
    finally:
        stop_server(process)
        asyncio.run(_admin(database_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


def fake_model(body: dict[str, Any]) -> str:
    """Derivation gets a fact, a card update an entry; anything else is the chat's answer."""
    schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema", {})
    properties = schema.get("properties", {})
    if "explicit" in properties:
        return json.dumps({"explicit": [FACT], "deductive": []})
    if "entries" in properties:
        return json.dumps({"entries": ["Name: Alice"]})
    return "Bob said: Hi Alice, how are you?"


def test_the_v1_quickstart_runs_unchanged(
    v2_python: Path, fresh_server: str, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.state.default_chat = fake_model
    env = {"HONCHO_BASE_URL": fresh_server, "HONCHO_WORKSPACE_ID": "quickstart"}
    found = run_client([str(v2_python), str(CLIENTS / "quickstart_v1.py")], env)
    assert found["answer"] == "Bob said: Hi Alice, how are you?"
    assert found["observations"] == [FACT]
    assert (found["pending"], found["in_progress"]) == (0, 0)
    # the chat reached the model with alice's question (what it retrieves is v3's business)
    chats = [b for b in fake_openai.state.chat_bodies() if "response_format" not in b]
    assert any("What did Bob say to me?" in json.dumps(b["messages"]) for b in chats)
