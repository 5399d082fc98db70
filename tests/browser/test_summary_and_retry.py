"""The explorer on work the real worker did, its LLM the fake server: a session's stored
summary in the context preview (its share of the budget, the messages it stands in for), and
a job that really failed, shown on the overview with its error and retried from there."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from honcho import Honcho
from honcho.api_types import PeerConfig, SessionPeerConfig

from browser.conftest import Watched, fresh_server_and_database, sql
from fakes.fixtures import fake_openai, fake_openai_server  # noqa: F401 - fixtures
from fakes.openai_server import CHAT, FakeOpenAIServer, answer_anything, asked_schema

Open = Callable[..., Watched]

SUMMARY = (
    "alice and bob planned eleven days on the Tour du Mont Blanc: huts booked in Courmayeur "
    "and Champex, light packs, and a rest day in Chamonix."
)
GARBAGE = "Sure! I would love to help with that. What would you like me to remember?"


def _env(fake: FakeOpenAIServer, **extra: str) -> dict[str, str]:
    return {
        "LLM_BASE_URL": fake.base_url,
        "LLM_MODEL": "fake-model",
        "LLM_API_KEY": "test",
        "LLM_MAX_RETRIES": "0",
        "EMBED_MESSAGES": "false",
        "DREAM_ENABLED": "false",
        "PEER_CARD_ENABLED": "false",
        **extra,
    }


def _wait(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return found


# ---- a stored summary in the context preview -----------------------------------------------


@pytest.fixture
def summary_server(
    database_url: str,
    tmp_path: Path,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> Iterator[str]:
    """``serve`` whose worker writes a short summary every 10 messages (no deriver)."""
    env = _env(
        fake_openai,
        DERIVER_ENABLED="false",
        SUMMARY_ENABLED="true",
        SUMMARY_MESSAGES_PER_SHORT_SUMMARY="10",
    )
    with fresh_server_and_database(database_url, tmp_path, env) as (base_url, _):
        yield base_url


def _summary_only(body: dict[str, Any]) -> str:
    assert asked_schema(body) is None, "only the summary should reach the LLM"
    return SUMMARY


def _ask_preview(w: Watched, budget: int) -> None:
    w.page.fill("#tokens", str(budget))
    w.page.click("form[hx-get$='/context'] button")
    w.page.wait_for_selector(f"#context-result[data-tokens='{budget}']")


def test_context_preview_shows_the_stored_summary_and_its_share_as_the_sdk_context(
    summary_server: str,
    fake_openai: FakeOpenAIServer,  # noqa: F811
    open_page: Open,
) -> None:
    fake_openai.state.default_chat = _summary_only
    ws = f"sum-{uuid.uuid4().hex[:8]}"
    honcho = Honcho(base_url=summary_server, workspace_id=ws, max_retries=0)
    alice, bob = honcho.peer("alice"), honcho.peer("bob")
    session = honcho.session("trip", peers=[alice, bob])
    said = [
        (alice if i % 2 == 0 else bob).message(
            f"turn {i}: " + "we should pack light and book the huts early " * (1 + i % 3)
        )
        for i in range(26)
    ]
    made = session.add_messages(said)
    # the real worker summarised the first 20 (26 // 10 * 10) through the fake LLM
    stored = _wait(lambda: session.summaries().short_summary, "the short summary")
    assert stored.content == SUMMARY
    assert stored.message_id == made[19].id
    summary_tokens = stored.token_count
    assert summary_tokens > 10

    # budgets: room for everything; the summary and only some of the messages after it; too
    # small for the summary's 40% share (no summary, only the newest messages)
    after = [m.token_count for m in made[20:]]
    roomy = 5000
    # the summary, then at least the newest two messages in the other 60% (not all six)
    tight = -(-(summary_tokens + after[-1] + after[-2]) * 10 // 6) + 1
    small = summary_tokens * 2  # 40% of it is less than the summary
    w = open_page(summary_server)
    w.open(f"/ui/w/{ws}/s/trip")
    w.page.wait_for_selector("#context-result")
    for budget in (roomy, tight, small):
        expected = session.context(tokens=budget)
        _ask_preview(w, budget)
        result = w.page.locator("#context-result")
        shown = w.page.locator("[data-context-message]").evaluate_all(
            "ms => ms.map(m => m.dataset.contextMessage)"
        )
        assert shown == [m.id for m in expected.messages], budget
        message_tokens = sum(m.token_count for m in expected.messages)
        left_out = 26 - len(expected.messages)
        marker = w.page.locator("[data-left-out]")
        text = result.inner_text()
        if budget == small:
            assert expected.summary is None
            assert w.page.locator("[data-summary-for]").count() == 0
            assert "No summary in this context." in text
            assert result.get_attribute("data-used") == str(message_tokens)
            assert marker.get_attribute("data-left-out") == str(left_out)
            assert marker.locator("[data-covered]").count() == 0  # no summary: all cut
            continue
        assert expected.summary is not None, budget
        assert expected.summary.content == SUMMARY
        shown_summary = w.page.locator(f"[data-summary-for='{expected.summary.message_id}']")
        assert shown_summary.count() == 1
        assert shown_summary.locator(".text").inner_text() == SUMMARY
        assert f"{expected.summary.token_count} tokens" in shown_summary.inner_text()
        # the arithmetic line and the share bar: the summary's part of the budget
        used = expected.summary.token_count + message_tokens
        assert result.get_attribute("data-used") == str(used)
        assert (
            f"{used} of {budget} tokens used: summary {expected.summary.token_count} "
            f"(its share is at most 40% = {int(budget * 0.4)}), messages {message_tokens}."
        ) in text
        bar = w.page.locator("#context-result .share .sum")
        width = bar.evaluate("e => e.style.width")
        assert width == f"{round(100 * expected.summary.token_count / budget, 1)}%"
        assert bar.bounding_box()["width"] > 0  # type: ignore[index]
        # the cut: everything before the newest messages, the summary standing in for 20
        assert marker.get_attribute("data-left-out") == str(left_out)
        covered = marker.locator("[data-covered]")
        assert covered.get_attribute("data-covered") == str(min(20, left_out))
        assert f"{min(20, left_out)} covered by the summary" in marker.inner_text()
        cut = str(left_out - min(20, left_out))
        assert marker.locator("[data-cut]").get_attribute("data-cut") == cut
        if budget == roomy:
            assert shown == [m.id for m in made[20:]]
            w.shot("context-summary-roomy")
        else:
            assert 0 < len(shown) < 6, "the tight budget cuts messages after the summary"
            assert shown == [m.id for m in made[26 - len(shown) :]]
            w.shot("context-summary-tight")


# ---- a failed job, retried from the overview -----------------------------------------------


@pytest.fixture
def deriver_server(
    database_url: str,
    tmp_path: Path,
    fake_openai: FakeOpenAIServer,  # noqa: F811
) -> Iterator[tuple[str, str]]:
    """``serve`` with the real deriver (no summaries), and its database's URL."""
    env = _env(fake_openai, DERIVER_ENABLED="true", SUMMARY_ENABLED="false")
    with fresh_server_and_database(database_url, tmp_path, env) as served:
        yield served


def _derive_jobs(db: str) -> list[tuple[Any, ...]]:
    return sql(db, "SELECT id, status, attempts, max_attempts FROM jobs WHERE kind = 'derive'")


def test_a_failed_job_is_shown_with_its_error_and_retried_from_the_overview(
    deriver_server: tuple[str, str],
    fake_openai: FakeOpenAIServer,  # noqa: F811
    open_page: Open,
) -> None:
    base_url, db = deriver_server
    state = fake_openai.state
    state.default_chat = GARBAGE  # prose, never the JSON the deriver asks for
    ws = f"fail-{uuid.uuid4().hex[:8]}"
    honcho = Honcho(base_url=base_url, workspace_id=ws, max_retries=0)
    alice = honcho.peer("alice")
    bot = honcho.peer("bot", configuration=PeerConfig(observe_me=False))
    chat = honcho.session("chat", peers=[alice, (bot, SessionPeerConfig(observe_others=True))])
    chat.add_messages([alice.message("I moved to Porto last spring.")])

    # every attempt fails on the model's answer; the backoff between attempts (2, 4, 8, 16 s)
    # is brought forward, the attempts themselves are the worker's
    def failed_for_good() -> list[tuple[Any, ...]]:
        sql(db, "UPDATE jobs SET scheduled_at = now() WHERE kind = 'derive' AND status = 'todo'")
        return [j for j in _derive_jobs(db) if j[1] == "failed"]

    [(job_id, _, attempts, max_attempts)] = _wait(failed_for_good, "the job to fail", 90)
    assert attempts == max_attempts == 5
    asked_before_retry = len(state.requests_to(CHAT))
    assert asked_before_retry >= 5
    assert alice.conclusions.list().total == 0

    status = httpx.get(f"{base_url}/status").json()
    [failed] = status["failed_jobs"]
    assert failed["id"] == job_id and failed["kind"] == "derive"
    assert failed["workspace_id"] == ws and failed["session_id"] == "chat"
    assert GARBAGE in (failed["raw_output"] or "")

    w = open_page(base_url)
    w.open("/")
    row = w.page.locator("tr", has=w.page.locator(f"input[name=job_id][value='{job_id}']"))
    assert row.count() == 1
    row_text = row.inner_text()
    assert f"#{job_id} derive" in row_text and "5 attempts" in row_text
    assert failed["last_error"] in row_text  # the error, as /status has it
    assert failed["last_error"].startswith("LLMOutputInvalid")
    assert row.locator(f"a[href='/ui/w/{ws}/s/chat']").count() == 1
    w.shot("overview-failed-job")

    # the model is fixed; Retry in the browser runs the job again, and memory is made
    state.default_chat = answer_anything
    row.locator("button:has-text('Retry')").click()
    w.page.wait_for_load_state("networkidle")
    assert f"Retried job {job_id}-" in w.page.inner_text(".notice")
    _wait(lambda: alice.conclusions.list().total == 1, "the retried job's conclusion")
    [conclusion] = alice.conclusions.list()
    assert conclusion.content == "alice said: I moved to Porto last spring."
    assert len(state.requests_to(CHAT)) > asked_before_retry
    assert [(j[0], j[1]) for j in _derive_jobs(db)] == [(job_id, "succeeded")]
    # the same job with fresh attempts, not a new one
    assert _derive_jobs(db)[0][2] == 1
    status = httpx.get(f"{base_url}/status").json()
    assert status["failed_jobs"] == [] and status["queue"]["failed"] == 0
    queue = honcho.queue_status()
    assert queue.pending_work_units == 0 and queue.in_progress_work_units == 0

    w.open("/")
    assert "No failed jobs." in w.page.inner_text("main")
    w.shot("overview-after-retry")
