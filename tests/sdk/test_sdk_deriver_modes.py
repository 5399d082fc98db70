"""The deriver end to end in every structured-output mode, through the official SDK.

A real ``honcho-server serve`` (embedded worker, its own fresh database) whose LLM is a fake
OpenAI server that answers by request type — extraction, summary or peer card, told apart by
the system message — so the order in which the worker runs its jobs does not matter.

Modes: ``json_schema``, ``json_object`` and ``text`` set explicitly (in ``text`` the fake
answers like a local model: a ``<think>`` block, prose and a fenced JSON block), and ``auto``
against an endpoint that refuses ``json_schema`` (the client must fall back).

Card jobs wait ``CARD_DELAY_SECONDS`` (60 s) after they are queued (``deriver/pipeline.py``);
the test moves the queued card job's ``scheduled_at`` to ``now()`` on the test database —
test control of time, nothing else about the job is touched.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from honcho import Honcho
from honcho.api_types import PeerConfig
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from databases import fresh_database
from fakes.openai_server import CHAT, FakeOpenAI, FakeOpenAIServer
from servers import start_server, stop_server

# What alice says, and the fact the fake "extracts" from each line.
FACTS = {
    "I live in Lisbon these days.": "alice lives in Lisbon",
    "I work as a nurse at the city hospital.": "alice works as a nurse",
    "My sister Ana visits every summer.": "alice has a sister named Ana",
}
CARD = ["IDENTITY: alice lives in Lisbon", "IDENTITY: alice works as a nurse"]
SUMMARY = "alice told the bot about her life in Lisbon, her nursing job and her sister Ana."
THINK_PROSE = (
    '<think>The user wants JSON. Let me look at the messages {{"not": "this"}}.</think>\n'
    "Sure! Here is the JSON you asked for:\n```json\n{payload}\n```\nLet me know if you need "
    "anything else."
)


@dataclass
class RoutingFake(FakeOpenAI):
    """Answers each chat request by what it asks for, not from a queue."""

    local_style: bool = False  # wrap JSON like a local model in text mode

    def _next_chat_reply(self) -> str:  # type: ignore[override]
        # Called synchronously right after the request was recorded (no await in between),
        # so the last recorded request is the one being answered.
        with self._lock:
            body = self.requests[-1].body
        messages = body["messages"]
        system = messages[0]["content"]
        user = messages[-1]["content"] if len(messages) > 1 else ""
        if system.startswith("You keep a long-term memory"):
            new = user.split("New messages to learn from:")[-1]
            payload = json.dumps(
                {"explicit": [f for m, f in FACTS.items() if m in new], "deductive": []}
            )
        elif system.startswith("You maintain a short profile card"):
            payload = json.dumps({"entries": CARD})
        elif system.startswith("You summarise a conversation"):
            return SUMMARY
        else:
            return "unexpected request"
        return THINK_PROSE.format(payload=payload) if self.local_style else payload


@pytest.fixture(scope="module")
def routing_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(RoutingFake()) as server:
        yield server


@pytest.fixture
def fake(routing_server: FakeOpenAIServer) -> Iterator[FakeOpenAIServer]:
    state = routing_server.state
    assert isinstance(state, RoutingFake)
    state.reset()
    state.local_style = False
    yield routing_server
    state.reset()
    state.local_style = False


@pytest.fixture
def fresh_url(database_url: str) -> Iterator[str]:
    loop = asyncio.new_event_loop()
    manager = fresh_database(database_url)
    try:
        yield loop.run_until_complete(manager.__aenter__())
    finally:
        loop.run_until_complete(manager.__aexit__(None, None, None))
        loop.close()


def _sql(url: str, sql: str) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(sql))
                return list(result.all()) if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _wait(check: Callable[[], object], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _format(body: dict[str, Any]) -> str:
    fmt = body.get("response_format")
    return fmt.get("type", "?") if isinstance(fmt, dict) else "none"


def _system(body: dict[str, Any]) -> str:
    return str(body["messages"][0]["content"])


MODES = ["json_schema", "json_object", "text", "auto-fallback"]


@pytest.mark.parametrize("mode", MODES)
def test_deriver_in_every_structured_mode(
    mode: str, fake: FakeOpenAIServer, fresh_url: str, tmp_path: Path
) -> None:
    state = fake.state
    assert isinstance(state, RoutingFake)
    if mode == "text":
        state.local_style = True
    if mode == "auto-fallback":
        state.reject_response_format("json_schema")
    env = {
        "DATABASE_URL": fresh_url,
        "LOG_LEVEL": "WARNING",
        "LLM_BASE_URL": fake.base_url,
        "LLM_MODEL": "fake",
        "LLM_API_KEY": "test",
        "LLM_MAX_RETRIES": "0",
        "LLM_STRUCTURED_MODE": "auto" if mode == "auto-fallback" else mode,
        "EMBED_MESSAGES": "false",
        "SUMMARY_MESSAGES_PER_SHORT_SUMMARY": "10",
    }
    process, base_url = start_server(env, tmp_path / "server.log")
    try:
        honcho = Honcho(base_url=base_url, workspace_id="modes", max_retries=0)
        alice = honcho.peer("alice")
        bot = honcho.peer("bot", configuration=PeerConfig(observe_me=False))
        session = honcho.session("chat", peers=[alice, bot])
        said = list(FACTS)
        turns = [alice.message(said[0]), bot.message("Nice city!"), alice.message(said[1])]
        turns += [bot.message("That must be demanding."), alice.message(said[2])]
        turns += [bot.message(f"filler {i}") for i in range(5)]
        assert len(turns) == 10
        session.add_messages(turns)

        # conclusions: the scripted facts, about alice, in this session
        _wait(lambda: alice.conclusions.list().total == len(FACTS), "conclusions")
        got = sorted((c.content, c.session_id) for c in alice.conclusions.list())
        assert got == sorted((f, "chat") for f in FACTS.values())
        assert list(bot.conclusions.list()) == []  # bot is not observed

        # the short summary after 10 messages
        _wait(lambda: session.summaries().short_summary is not None, "the short summary")
        short = session.summaries().short_summary
        assert short is not None and short.content == SUMMARY

        # the peer card: its job waits 60 s after queueing; bring it forward
        _wait(
            lambda: _sql(fresh_url, "SELECT 1 FROM jobs WHERE kind = 'card'"), "a queued card job"
        )
        _sql(
            fresh_url,
            "UPDATE jobs SET scheduled_at = now() WHERE kind = 'card' AND status = 'todo'",
        )
        _wait(lambda: alice.get_card() == CARD, "the peer card")
        failed = _sql(fresh_url, "SELECT kind, last_error FROM jobs WHERE status = 'failed'")
        assert failed == []
    finally:
        stop_server(process)

    # what the server actually sent, per request type
    chats = [r.body for r in state.requests_to(CHAT)]
    extraction = [b for b in chats if _system(b).startswith("You keep a long-term memory")]
    cards = [b for b in chats if _system(b).startswith("You maintain a short profile card")]
    summaries = [b for b in chats if _system(b).startswith("You summarise a conversation")]
    assert extraction and cards and summaries
    assert all(_format(b) in ("none", "text") for b in summaries)
    structured = extraction + cards
    formats = [_format(b) for b in structured]
    if mode in ("json_schema", "json_object"):
        assert set(formats) == {mode}
    elif mode == "text":
        assert set(formats) <= {"none", "text"}
        # without a response_format the schema has to be in the prompt
        assert all("conforms to this JSON Schema" in _system(b) for b in structured)
    else:
        # auto: json_schema refused (400) at first, json_object from then on
        assert formats[0] == "json_schema"
        assert "json_object" in formats
        accepted_after = formats[formats.index("json_object") :]
        assert set(accepted_after) == {"json_object"}, formats
