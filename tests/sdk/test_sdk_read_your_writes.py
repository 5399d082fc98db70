"""Issue 12 through both official SDKs (``honcho-ai`` and ``@honcho-ai/sdk``) against live
servers: create-then-query with the worker busy on a backlog, ``derived()`` after a
derivation with the fake LLM, ``deriver/metrics``, and a 500-entry peer card.

The busy server embeds every message (the default set-up) on a database of its own; each
read-your-writes loop first queues a backlog of long messages for its worker, checks through
``deriver/metrics`` that the backlog is there before the loop and still there after it (so
the worker was busy all along), and allows no miss: a conclusion must be found by the very
next query."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from honcho import Honcho
from sqlalchemy.engine import make_url

from fakes.fixtures import fake_openai, fake_openai_server  # noqa: F401 - fixtures
from fakes.openai_server import FakeOpenAIServer
from honcho_server.db.migrate import upgrade
from sdk.test_sdk_conclusions import NURSE, _derivation
from sdk.test_sdk_deriver import deriver_server  # noqa: F401 - fixture
from sdk.test_sdk_queue_webhooks import _admin
from sdk.test_typescript_sdk import (
    SMOKE_TIMEOUT,
    TS_DIR,
    _ensure_node_modules,
    _env,
    _node_toolchain,
    _report,
    _run,
)
from servers import start_server, stop_server

ITERATIONS = 100
BACKLOG_MESSAGES = 1_200  # ~50 s of work for the local model on two cores
NOTE = (
    "alice wrote a long note about her garden the tomatoes the basil the slow spring rain her "
    "trip to Lisbon the tram the river the bakery on the corner and the book she read"
)
WORDS = NOTE.split()


@pytest.fixture(scope="module")
def busy_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    name = f"sdkryw_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(database_url, f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    env = {
        "DATABASE_URL": url,
        "LOG_LEVEL": "WARNING",
        "EMBED_MESSAGES": "true",
        "DERIVER_ENABLED": "false",
        "SUMMARY_ENABLED": "false",
    }
    process, base_url = start_server(env, tmp_path_factory.mktemp("busy") / "server.log")
    try:
        yield base_url
    finally:
        stop_server(process)
        asyncio.run(_admin(database_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


def _metrics(base_url: str, workspace: str | None = None) -> dict[str, Any]:
    path = f"/v3/workspaces/{workspace}/deriver/metrics" if workspace else "/deriver/metrics"
    r = httpx.get(base_url + path, timeout=30)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _queue_backlog(base_url: str, messages: int) -> None:
    """``messages`` long messages (about 190 tokens each) in a workspace of their own."""
    ws = f"backlog-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for start in range(0, messages, 100):
            batch = [
                {
                    "peer_id": "writer",
                    "content": " ".join(WORDS[(n + j) % len(WORDS)] for j in range(150))
                    + f" ({n})",
                }
                for n in range(start, min(start + 100, messages))
            ]
            r = client.post(
                f"/v3/workspaces/{ws}/sessions/notes/messages", json={"messages": batch}
            )
            assert r.status_code == 201, r.text
    backlog = _metrics(base_url)
    assert backlog["embeddings_pending"] >= messages // 2, backlog
    assert backlog["outstanding_work_seconds"] == 1800.0


def _content(i: int, who: str) -> str:
    colour = ["red", "blue", "green", "gold"][i % 4]
    thing = ["kite", "lamp", "boat", "drum", "vase"][i % 5]
    return f"alice ({who}) noted item {i}: a {colour} {thing} bought on day {i * 7 + 3}"


def test_create_then_query_python(busy_server: str) -> None:
    _queue_backlog(busy_server, BACKLOG_MESSAGES)
    alice = Honcho(base_url=busy_server, workspace_id="ryw-py", max_retries=0).peer("alice")
    misses = []
    started = time.monotonic()
    for i in range(ITERATIONS):
        content = _content(i, "py")
        [created] = alice.conclusions.create([{"content": content}])
        found = alice.conclusions.query(content, top_k=1)
        if [c.id for c in found] != [created.id]:
            misses.append(i)
    elapsed = time.monotonic() - started
    still = _metrics(busy_server)
    assert misses == [], f"{len(misses)} of {ITERATIONS} queries missed: {misses}"
    assert still["embeddings_pending"] > 0, f"the backlog ran out after {elapsed:.0f}s"
    assert _metrics(busy_server, "ryw-py")["embeddings_pending"] == 0  # nothing of ours queued


async def test_create_then_query_python_async(busy_server: str) -> None:
    _queue_backlog(busy_server, BACKLOG_MESSAGES // 4)
    honcho = Honcho(base_url=busy_server, workspace_id="ryw-aio", max_retries=0)
    alice = await honcho.aio.peer("alice")
    misses = []
    for i in range(ITERATIONS // 4):
        content = _content(i, "aio")
        [created] = await alice.conclusions.aio.create([{"content": content}])
        found = await alice.conclusions.aio.query(content, top_k=1)
        if [c.id for c in found] != [created.id]:
            misses.append(i)
    assert misses == []
    assert _metrics(busy_server)["embeddings_pending"] > 0


def _node(*args: str) -> None:
    node, npm_cli = _node_toolchain()
    env = _env(node)
    _ensure_node_modules(node, npm_cli, env)
    result = _run([str(node), str(TS_DIR / "parity.mjs"), *args], env, SMOKE_TIMEOUT)
    assert result.returncode == 0, f"parity.mjs {' '.join(args[2:])} failed: {_report(result)}"
    assert f"{args[2]} steps passed" in result.stdout, _report(result)


def test_create_then_query_typescript(busy_server: str) -> None:
    _queue_backlog(busy_server, BACKLOG_MESSAGES)
    Honcho(base_url=busy_server, workspace_id="ryw-ts", max_retries=0).peer("alice")
    _node(busy_server, "ryw-ts", "read-your-writes", str(ITERATIONS))
    assert _metrics(busy_server)["embeddings_pending"] > 0, "the backlog ran out"


def test_long_card_typescript(busy_server: str) -> None:
    _node(busy_server, f"card-{uuid.uuid4().hex[:8]}", "card", "500")


def test_derived_typescript(
    deriver_server: str,  # noqa: F811
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> None:
    ws = f"provenance-ts-{uuid.uuid4().hex[:6]}"
    honcho = Honcho(base_url=deriver_server, workspace_id=ws, max_retries=0)
    _derivation(honcho, fake_openai)
    [nurse] = [c for c in honcho.peer("alice").conclusions.list() if c.content == NURSE]
    _node(deriver_server, ws, "derived", nurse.id)


def test_new_message_found_by_its_words_at_once(busy_server: str) -> None:
    """Messages keep background embedding (as upstream), but search finds a message written a
    moment ago by its words: the full-text half needs no vector (the worker is busy)."""
    _queue_backlog(busy_server, BACKLOG_MESSAGES // 4)
    honcho = Honcho(base_url=busy_server, workspace_id="ryw-search", max_retries=0)
    alice = honcho.peer("alice")
    session = honcho.session("chat")
    for i in range(20):
        word = f"zephyrquill{i}"
        [message] = session.add_messages([alice.message(f"the new gate code hint is {word}.")])
        assert message.id in [m.id for m in honcho.search(word)], f"workspace search, {i}"
        assert message.id in [m.id for m in session.search(word)], f"session search, {i}"
        assert message.id in [m.id for m in alice.search(word)], f"peer search, {i}"
    assert _metrics(busy_server)["embeddings_pending"] > 0, "the backlog ran out"
