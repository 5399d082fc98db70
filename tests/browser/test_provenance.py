"""Provenance of a conclusion the real deriver drew (its LLM the fake server): from a user to
the message behind one of its conclusions in a few clicks, the message shown in its session."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from honcho import Honcho
from honcho.api_types import PeerConfig, SessionPeerConfig

from browser.conftest import Watched, fresh_server
from fakes.fixtures import fake_openai, fake_openai_server  # noqa: F401 - fixtures
from fakes.openai_server import FakeOpenAIServer

Open = Callable[..., Watched]


@pytest.fixture
def deriver_server(
    database_url: str,
    tmp_path: Path,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> Iterator[str]:
    """``serve`` with the real deriver, its LLM the fake, on a database of its own (so its
    worker takes no job of another test's server)."""
    env = {"LLM_BASE_URL": fake_openai.base_url, "LLM_MODEL": "fake-model", "LLM_API_KEY": "t"}
    with fresh_server(database_url, tmp_path, env) as base_url:
        yield base_url


def _wait(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_from_a_user_to_the_message_behind_its_conclusion(
    deriver_server: str,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    open_page: Open,
) -> None:
    fake_openai.state.queue_chat(
        json.dumps({"explicit": ["alice is allergic to peanuts"], "deductive": []})
    )
    ws = f"prov-{uuid.uuid4().hex[:8]}"
    honcho = Honcho(base_url=deriver_server, workspace_id=ws, max_retries=0)
    alice = honcho.peer("alice")
    bot = honcho.peer("bot", configuration=PeerConfig(observe_me=False))
    lunch = honcho.session("lunch", peers=[alice, (bot, SessionPeerConfig(observe_others=True))])
    [said] = lunch.add_messages([alice.message("Careful, I'm allergic to peanuts.")])
    _wait(lambda: alice.conclusions.list().total == 1)

    w = open_page(deriver_server)
    w.open(f"/ui/w/{ws}")
    w.page.click("a:has-text('alice')")  # 1: the user
    w.page.wait_for_selector("#conclusions")
    w.page.click("a.conclusion-link:has-text('allergic to peanuts')")  # 2: a conclusion
    w.page.wait_for_load_state("networkidle")
    source = w.page.locator(f"li.source-message[data-message='{said.id}']")
    assert "Careful, I'm allergic to peanuts." in source.inner_text()  # its message, shown
    w.shot("provenance-derived")
    source.locator("a").click()  # 3: the message in its session
    w.page.wait_for_load_state("networkidle")
    assert w.page.locator(f"#m-{said.id}.target").count() == 1
    w.shot("session-jump")
