"""Paging, filters and jumps on the workspace and session pages (auth off)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from honcho import Honcho

from browser.conftest import Watched

Open = Callable[..., Watched]


def test_workspace_lists_page_and_filter_by_id(explorer: str, open_page: Open) -> None:
    ws = f"browse-{uuid.uuid4().hex[:8]}"
    honcho = Honcho(base_url=explorer, workspace_id=ws, max_retries=0)
    for i in range(30):
        honcho.peer(f"user-{i:02d}")
    for i in range(3):
        honcho.session(f"trip-{i}", peers=[honcho.peer("user-00")])
    w = open_page(explorer)
    w.open(f"/ui/w/{ws}")
    assert "30 peers" in w.page.inner_text("main") and "page 1 of 2" in w.page.inner_text("main")
    w.page.click("a:has-text('next →') >> nth=-1")
    w.page.wait_for_load_state("networkidle")
    assert "user-29" in w.page.inner_text("main") and "page 2 of 2" in w.page.inner_text("main")
    w.page.fill("input[name=q]", "ER-1")  # case-insensitive part of an id
    w.page.click("form.row button")
    w.page.wait_for_load_state("networkidle")
    text = w.page.inner_text("main")
    assert "10 peers" in text and "user-10" in text and "user-20" not in text
    assert "0 sessions" in text
    w.open(f"/ui/w/{ws}?q=trip")
    assert "3 sessions" in w.page.inner_text("main")


def test_session_pages_either_way_and_jumps_to_a_message(explorer: str, open_page: Open) -> None:
    ws = f"pages-{uuid.uuid4().hex[:8]}"
    honcho = Honcho(base_url=explorer, workspace_id=ws, max_retries=0)
    alice = honcho.peer("alice")
    session = honcho.session("long", peers=[alice])
    made = session.add_messages([alice.message(f"line {i}") for i in range(100)])
    made += session.add_messages([alice.message(f"line {i}") for i in range(100, 120)])
    w = open_page(explorer)
    w.open(f"/ui/w/{ws}/s/long")
    first = w.page.locator(".msg[id^=m-]").first.inner_text()
    assert "line 0" in first and "page 1 of 3" in w.page.inner_text("#messages")
    w.open(f"/ui/w/{ws}/s/long?newest=true")
    assert "line 119" in w.page.locator(".msg[id^=m-]").first.inner_text()
    target = made[77]
    for newest in ("", "true"):
        w.open(f"/ui/w/{ws}/s/long?newest={newest}&jump={target.id}")
        highlighted = w.page.locator(f"#m-{target.id}.target")
        assert highlighted.count() == 1 and "line 77" in highlighted.inner_text()
    w.shot("session-jump-newest")
    w.expect_errors("status of 404")
    assert w.open(f"/ui/w/{ws}/s/long?jump=no-such-message") == 404
