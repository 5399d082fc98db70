"""Every explorer page in a real Chromium, on data made through the official SDK (auth off)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from honcho import Honcho
from honcho.api_types import PeerConfig
from playwright.sync_api import Route

from browser.conftest import Watched, fresh_server
from fakes.openai_server import FakeOpenAIServer

Open = Callable[..., Watched]


def _sdk(base_url: str, workspace: str) -> Honcho:
    return Honcho(base_url=base_url, workspace_id=workspace, max_retries=0)


def _seed(base_url: str) -> tuple[str, str]:
    """A workspace with two peers, a session of messages, a card and a conclusion."""
    ws = f"ex-{uuid.uuid4().hex[:8]}"
    honcho = _sdk(base_url, ws)
    alice = honcho.peer("alice")
    bot = honcho.peer("bot", configuration=PeerConfig(observe_me=False))
    chat = honcho.session("hiking-chat", peers=[alice, bot])
    chat.add_messages(
        [
            alice.message("Hi! I love hiking in the Alps every summer."),
            bot.message("Nice. Which trail did you like best?"),
            alice.message("The Tour du Mont Blanc, eleven days with my sister."),
        ]
    )
    alice.set_card(["Lives in Lisbon", "Loves hiking"])
    [made] = alice.conclusions.create([{"content": "alice hikes the Alps", "session_id": chat.id}])
    return ws, made.id


def _local_only(base_url: str, outside: list[str]) -> Callable[[Route], None]:
    """A route handler that lets requests to the server through and refuses (and records)
    any other."""

    def handle(route: Route) -> None:
        url = route.request.url
        if url.startswith((base_url, "data:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    return handle


def test_every_page_loads_with_no_console_errors_and_nothing_from_outside(
    explorer: str, open_page: Open
) -> None:
    ws, conclusion = _seed(explorer)
    for scheme in ("light", "dark"):
        w = open_page(explorer, scheme)
        outside: list[str] = []
        w.page.route("**/*", _local_only(explorer, outside))  # offline: nothing from outside
        pages = {
            "overview": "/",
            "workspace": f"/ui/w/{ws}",
            "session": f"/ui/w/{ws}/s/hiking-chat",
            "peer": f"/ui/w/{ws}/p/alice",
            "provenance": f"/ui/w/{ws}/c/{conclusion}",
            "chat": f"/ui/w/{ws}/chat?peer=alice",
            "search": f"/ui/w/{ws}/search?q=hiking",
        }
        for name, path in pages.items():
            assert w.open(path) == 200, name
            if name == "session":
                w.page.wait_for_selector("#context-result")
            if name == "peer":
                w.page.wait_for_selector("#representation-text")
            assert "Something went wrong" not in w.page.content()
            w.shot(f"{name}-{scheme}")
        assert w.open("/docs") == 200
        w.page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
        w.shot(f"docs-{scheme}")
        assert w.open("/redoc") == 200
        w.page.wait_for_selector("[role=search], .menu-content", timeout=20_000)
        w.shot(f"redoc-{scheme}")
        assert outside == [], f"pages fetched from outside the server: {outside}"


def test_three_clicks_from_a_workspace_to_a_conclusion_and_its_sources(
    explorer: str, open_page: Open
) -> None:
    """Workspace → peer → conclusion: the provenance page (its sources, here none: the SDK
    cannot cite messages; tests/browser/test_provenance.py covers a derived chain)."""
    ws, _ = _seed(explorer)
    w = open_page(explorer)
    w.open(f"/ui/w/{ws}")
    w.page.click("a:has-text('alice')")
    w.page.wait_for_selector("#conclusions")
    w.page.click("a.conclusion-link >> nth=0")
    w.page.wait_for_load_state("networkidle")
    assert "/c/" in w.page.url
    assert "alice hikes the Alps" in w.page.inner_text("main")
    assert "No recorded sources" in w.page.inner_text("main")


def test_peer_page_shows_sdk_conclusion_card_edit_and_delete_persist(
    explorer: str, open_page: Open
) -> None:
    ws, conclusion = _seed(explorer)
    honcho = _sdk(explorer, ws)
    alice = honcho.peer("alice")
    bot = honcho.peer("bot")
    [bots] = bot.conclusions_of("alice").create([{"content": "alice is training for a marathon"}])
    w = open_page(explorer)
    w.open(f"/ui/w/{ws}/p/alice")
    rows = w.page.locator("#conclusions tr[data-conclusion]")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.conclusion)")) == sorted(
        [conclusion, bots.id]
    )
    text = w.page.inner_text("#conclusions")
    assert "alice hikes the Alps" in text and "alice is training for a marathon" in text
    # by observer
    w.open(f"/ui/w/{ws}/p/alice?observer=bot")
    assert w.page.locator("#conclusions tr[data-conclusion]").count() == 1

    # edit the card
    w.open(f"/ui/w/{ws}/p/alice")
    w.page.click("summary:has-text('Edit')")
    w.page.fill("textarea[name=card]", "Lives in Porto\nLoves hiking\n\nHas a sister")
    w.page.click("button:has-text('Save card')")
    w.page.wait_for_load_state("networkidle")
    assert "card saved" in w.page.inner_text("main")
    assert alice.get_card() == ["Lives in Porto", "Loves hiking", "Has a sister"]
    w.shot("peer-after-card-edit")

    # delete one conclusion
    w.page.click(f"tr[data-conclusion='{bots.id}'] button.danger")
    w.page.wait_for_load_state("networkidle")
    assert "conclusion deleted" in w.page.inner_text("main")
    assert [c.id for c in bot.conclusions_of("alice").list()] == []
    assert [c.id for c in alice.conclusions.list()] == [conclusion]

    # create one
    w.page.click("summary:has-text('Add a conclusion')")
    w.page.fill("textarea[name=content]", "alice prefers mountain huts to tents")
    w.page.click("form[action$='/conclusions'] button")
    w.page.wait_for_load_state("networkidle")
    assert "alice prefers mountain huts to tents" in [c.content for c in alice.conclusions.list()]


@pytest.mark.parametrize("budget", [1, 40, 90, 400, 5000])
def test_context_preview_is_what_the_sdk_context_returns(
    explorer: str, open_page: Open, budget: int
) -> None:
    ws = f"ctx-{uuid.uuid4().hex[:8]}"
    honcho = _sdk(explorer, ws)
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    session = honcho.session("long", peers=[alice, bob])
    session.add_messages(
        [
            (alice if i % 2 else bob).message(f"message {i}: " + "word " * (i % 7 * 3 + 1))
            for i in range(40)
        ]
    )
    expected = session.context(tokens=budget)
    w = open_page(explorer)
    w.open(f"/ui/w/{ws}/s/long")
    w.page.wait_for_selector("#context-result")
    w.page.fill("#tokens", str(budget))
    w.page.click("form[hx-get$='/context'] button")
    w.page.wait_for_selector(f"#context-result[data-tokens='{budget}']")
    shown = w.page.locator("[data-context-message]").evaluate_all(
        "ms => ms.map(m => m.dataset.contextMessage)"
    )
    assert shown == [m.id for m in expected.messages]
    assert (w.page.locator("[data-summary-for]").count() == 1) == (expected.summary is not None)
    left_out = 40 - len(expected.messages)
    marker = w.page.locator("[data-left-out]")
    if left_out:
        assert marker.get_attribute("data-left-out") == str(left_out)
    else:
        assert marker.count() == 0
    if budget == 90:
        w.shot("context-preview")


def test_chat_playground_streams_the_answer_with_evidence(
    explorer: str, open_page: Open, fake_openai_server: FakeOpenAIServer
) -> None:
    ws, _ = _seed(explorer)
    fake = fake_openai_server.state
    fake.reset()
    answer = "Alice loves hiking in the Alps, most of all the Tour du Mont Blanc."
    fake.chunk_delay_seconds = 0.08
    fake.queue_chat(answer)
    w = open_page(explorer)
    w.open(f"/ui/w/{ws}/chat?peer=alice")
    w.page.fill("textarea[name=query]", "What does alice like to do?")
    started = time.monotonic()
    # Chromium may report the streamed fetch as aborted when the page closes, though the
    # script read its body to the end (data-done is set only then): not a page error.
    w.expect_errors(f"POST {explorer}/ui/w/{ws}/chat net::ERR_ABORTED")
    w.page.click("#chat-form button")
    # part of the answer is on screen before the end: it streams, it is not sent whole
    w.page.wait_for_function(
        "() => { const a = document.getElementById('answer');"
        " return a.textContent.length > 0 && a.dataset.done === undefined; }"
    )
    partial = w.page.inner_text("#answer")
    assert 0 < len(partial) < len(answer)
    w.page.wait_for_selector("#answer[data-done='true']", timeout=30_000)
    fake.chunk_delay_seconds = 0.0
    assert w.page.inner_text("#answer") == answer
    assert int(w.page.get_attribute("#answer", "data-chunks") or 0) > 3
    assert time.monotonic() - started > 0.3
    assert "alice hikes the Alps" in w.page.inner_text("#evidence")
    w.shot("chat-streamed")


def test_a_big_context_is_listed_in_parts_that_add_up_to_the_sdk_context(
    explorer: str, open_page: Open
) -> None:
    ws = f"big-{uuid.uuid4().hex[:8]}"
    honcho = _sdk(explorer, ws)
    alice = honcho.peer("alice")
    session = honcho.session("big", peers=[alice])
    for start in range(0, 300, 100):
        session.add_messages([alice.message(f"note {i}") for i in range(start, start + 100)])
    expected = [m.id for m in session.context(tokens=100_000).messages]
    assert len(expected) == 300
    w = open_page(explorer)
    w.open(f"/ui/w/{ws}/s/big")
    w.page.fill("#tokens", "100000")
    w.page.click("form[hx-get$='/context'] button")
    w.page.wait_for_selector("#context-result[data-tokens='100000']")
    seen: list[str] = []
    for part in (1, 2):
        pager = w.page.locator("#context-result .pager").first
        assert pager.get_attribute("data-context-messages") == "300"
        seen += w.page.locator("[data-context-message]").evaluate_all(
            "ms => ms.map(m => m.dataset.contextMessage)"
        )
        if part == 1:
            pager.locator("a:has-text('later')").click()
            last = f"#context-result [data-context-message='{expected[-1]}']"
            w.page.wait_for_selector(last)
    assert seen == expected


def test_a_remote_embedder_is_not_called_by_the_overview(
    database_url: str,
    tmp_path: Path,
    fake_openai_server: FakeOpenAIServer,
    open_page: Open,
) -> None:
    """With an OpenAI-compatible embedder, viewing the overview sends it nothing; whether it
    answers comes from the workers' reports."""
    env = {
        "EMBEDDING_PROVIDER": "openai",
        "EMBEDDING_BASE_URL": fake_openai_server.base_url,
        "EMBEDDING_MODEL": "fake-embedding",
        "EMBEDDING_API_KEY": "test",
        "EMBEDDING_DIMENSIONS": "384",
        "DERIVER_ENABLED": "false",
    }
    with fresh_server(database_url, tmp_path, env) as base_url:
        before = len(fake_openai_server.state.requests_to("/v1/embeddings"))
        w = open_page(base_url)
        for _ in range(3):
            assert w.open("/") == 200
        assert "whether it answers: the workers' reports" in w.page.inner_text("main")
        assert len(fake_openai_server.state.requests_to("/v1/embeddings")) == before
        w.shot("overview-remote-embedder")
