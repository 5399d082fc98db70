"""The deriver end to end: a real ``honcho-server serve`` (embedded worker) whose LLM is the
fake OpenAI server; messages go in through the SDK and conclusions come out."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from honcho import Honcho
from honcho.api_types import PeerConfig, SessionPeerConfig
from sqlalchemy.engine import make_url

from fakes.fixtures import fake_openai, fake_openai_server  # noqa: F401 - fixtures
from fakes.openai_server import FakeOpenAIServer
from honcho_server.db.migrate import upgrade
from sdk.test_sdk_queue_webhooks import _admin
from servers import start_server, stop_server


@pytest.fixture
def deriver_server(
    database_url: str,
    tmp_path: Path,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> Iterator[str]:
    name = f"sdkderive_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(database_url, f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    env = {
        "DATABASE_URL": url,
        "LOG_LEVEL": "WARNING",
        "LLM_BASE_URL": fake_openai.base_url,
        "LLM_MODEL": "fake-model",
        "LLM_API_KEY": "test",
    }
    process, base_url = start_server(env, tmp_path / "server.log")
    try:
        yield base_url
    finally:
        stop_server(process)
        asyncio.run(_admin(database_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


def _wait(check: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the deriver did not finish in time"
        time.sleep(0.2)


def test_messages_become_conclusions_and_representation(
    deriver_server: str,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    fake_openai.state.queue_chat(
        json.dumps({"explicit": ["alice moved to Lisbon last spring"], "deductive": []})
    )
    honcho = Honcho(base_url=deriver_server, workspace_id="demo", max_retries=0)
    alice = honcho.peer("alice")
    bot = honcho.peer("bot", configuration=PeerConfig(observe_me=False))
    session = honcho.session("chat", peers=[alice, (bot, SessionPeerConfig(observe_others=True))])
    session.add_messages(
        [alice.message("I moved to Lisbon last spring."), bot.message("How do you like it?")]
    )

    _wait(lambda: alice.conclusions.list().total == 1)
    [mine] = list(alice.conclusions.list())
    assert (mine.content, mine.session_id) == ("alice moved to Lisbon last spring", "chat")
    assert [c.content for c in bot.conclusions_of("alice").list()] == [mine.content]
    assert list(bot.conclusions.list()) == []  # bot is not observed

    ctx = session.context(tokens=2_000, peer_target="alice")
    assert ctx.peer_representation is not None
    assert "alice moved to Lisbon last spring" in ctx.peer_representation
    seen_by_bot = session.context(tokens=2_000, peer_target="alice", peer_perspective="bot")
    assert "Lisbon" in (seen_by_bot.peer_representation or "")
    _wait(lambda: honcho.queue_status().pending_work_units == 0)
    assert len(fake_openai.state.requests_to("/v1/chat/completions")) == 1
