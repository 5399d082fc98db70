"""The explorer with auth on: a key entered once, kept out of URLs and pages, and the server —
not the page — deciding what it reaches; forged requests refused."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx
from honcho import Honcho

from browser.conftest import Watched, key

Open = Callable[..., Watched]


def _seed(base_url: str) -> str:
    ws = f"auth-{uuid.uuid4().hex[:8]}"
    admin = Honcho(base_url=base_url, workspace_id=ws, api_key=key(admin=True), max_retries=0)
    alice, bob, carol = admin.peer("alice"), admin.peer("bob"), admin.peer("carol")
    ours = admin.session("ours", peers=[alice, bob])
    ours.add_messages([alice.message("alice writes here"), bob.message("bob answers")])
    theirs = admin.session("theirs", peers=[carol])
    theirs.add_messages([carol.message("carol's private note")])
    alice.set_card(["alice card fact"])
    carol.set_card(["carol secret fact"])
    carol.conclusions.create([{"content": "carol secret conclusion"}])
    return ws


def _sign_in(w: Watched, token: str) -> None:
    assert w.open("/") == 200
    assert w.page.url.endswith("/ui/login")
    w.page.fill("input[name=key]", token)
    w.page.click("form[action='/ui/login'] button")
    w.page.wait_for_load_state("networkidle")


def _card(base_url: str, ws: str, peer: str) -> list[str] | None:
    admin = Honcho(base_url=base_url, workspace_id=ws, api_key=key(admin=True), max_retries=0)
    return admin.peer(peer).get_card()


def test_a_peer_key_sees_only_its_peer_and_sessions(
    explorer_auth: str, open_page: Open, server_logs: dict[str, Path]
) -> None:
    ws = _seed(explorer_auth)
    token = key(workspace=ws, peer="alice")
    w = open_page(explorer_auth)
    _sign_in(w, token)
    w.shot("auth-peer-overview")
    main = w.page.inner_text("main")
    assert "alice" in main and "ours" in main and "theirs" not in main
    # the key is in an HttpOnly, SameSite=Strict session cookie, nowhere in the page or URL
    [cookie] = [c for c in w.page.context.cookies() if c["name"] == "honcho_explorer_key"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] == -1
    assert token not in w.page.content() and token not in w.page.url
    assert w.page.evaluate("document.cookie") == ""  # no script can read it

    assert w.open(f"/ui/w/{ws}") == 200  # the workspace page sends a peer key to its peer
    assert w.page.url.endswith(f"/ui/w/{ws}/p/alice")
    page = w.page.inner_text("main")
    assert "alice card fact" in page and "ours" in page
    assert "theirs" not in page and "carol" not in page
    w.shot("auth-peer-page")
    assert w.open(f"/ui/w/{ws}/s/ours") == 200
    assert "bob answers" in w.page.inner_text("main")

    # another peer's pages, a session it is not in: the server refuses them
    w.expect_errors("status of 401")
    for path in (f"/ui/w/{ws}/p/carol", f"/ui/w/{ws}/s/theirs", "/ui/w/other-ws/p/alice"):
        assert w.open(path) == 401, path
        text = w.page.inner_text("main")
        assert "Not for this key" in text
        assert "carol secret" not in text and "carol's private note" not in text
    w.shot("auth-refused")
    assert w.open(f"/ui/w/{ws}/search?q=private") == 401  # workspace search: workspace keys
    log = server_logs[explorer_auth].read_text()
    assert "GET /ui/w/{w}/p/{p} 401" in log  # the access log is on, and has the pages...
    assert token not in log  # ...never the key


def test_forged_requests_are_refused_by_the_server(explorer_auth: str, open_page: Open) -> None:
    ws = _seed(explorer_auth)
    w = open_page(explorer_auth)
    _sign_in(w, key(workspace=ws, peer="alice"))
    w.open(f"/ui/w/{ws}/p/alice")
    csrf = w.page.get_attribute("meta[name=csrf-token]", "content")
    assert csrf
    w.expect_errors("status of 40")
    card = f"{explorer_auth}/ui/w/{ws}/p/alice/card"
    post = w.page.request.post  # the browser's cookies, none of the page's checks
    assert post(card, form={"card": "forged, no token"}).status == 403
    assert post(card, form={"card": "forged", "csrf_token": "x" * 43}).status == 403
    assert post(card, form={"card": "forged"}, headers={"x-csrf-token": "wrong"}).status == 403
    other_site = {"origin": "http://evil.example", "sec-fetch-site": "cross-site"}
    forged = {"card": "forged", "csrf_token": csrf}
    assert post(card, form=forged, headers=other_site).status == 403
    assert _card(explorer_auth, ws, "alice") == ["alice card fact"]

    # the right token, but another peer's card: the API's guard refuses the key
    theirs = {"card": "overwritten", "csrf_token": csrf}
    assert post(f"{explorer_auth}/ui/w/{ws}/p/carol/card", form=theirs).status == 401
    assert _card(explorer_auth, ws, "carol") == ["carol secret fact"]
    conclusion = f"{explorer_auth}/ui/w/{ws}/p/carol/conclusions"
    made = {"content": "planted", "observer": "alice", "csrf_token": csrf}
    assert post(conclusion, form=made).status == 401

    # a real cross-site page submitting a form: the SameSite cookie stays home, and the
    # request is refused before it reaches anything
    html = (
        f"<form method=post action='{card}'><input name=card value=pwned>"
        f"<input name=csrf_token value={csrf}></form><script>document.forms[0].submit()</script>"
    )
    w.page.goto("data:text/html," + quote(html))
    w.page.wait_for_load_state("networkidle")
    assert _card(explorer_auth, ws, "alice") == ["alice card fact"]

    # and the legitimate form still works
    w.open(f"/ui/w/{ws}/p/alice")
    w.page.click("summary:has-text('Edit')")
    w.page.fill("textarea[name=card]", "alice card fact\nalice edited this")
    w.page.click("button:has-text('Save card')")
    w.page.wait_for_load_state("networkidle")
    assert _card(explorer_auth, ws, "alice") == ["alice card fact", "alice edited this"]


def test_no_key_no_pages_and_a_bad_key_is_refused(explorer_auth: str, open_page: Open) -> None:
    response = httpx.get(f"{explorer_auth}/ui/w/anything/p/alice", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ui/login"
    w = open_page(explorer_auth)
    w.expect_errors("status of 401")
    _sign_in(w, "not.a.key")
    assert "Key refused" in w.page.inner_text("main")
    assert not [c for c in w.page.context.cookies() if c["name"] == "honcho_explorer_key"]
    w.shot("auth-login-refused")
    # sign out forgets the key
    _sign_in(w, key(admin=True))
    assert "Overview" in w.page.inner_text("main")
    w.page.click("button:has-text('Sign out')")
    w.page.wait_for_load_state("networkidle")
    assert w.page.url.endswith("/ui/login")
    assert not [c for c in w.page.context.cookies() if c["name"] == "honcho_explorer_key"]


def test_retrying_a_job_is_for_admin_keys_only(explorer_auth: str, open_page: Open) -> None:
    ws = _seed(explorer_auth)
    w = open_page(explorer_auth)
    _sign_in(w, key(workspace=ws))
    assert "Service-wide status" in w.page.inner_text("main")  # no /status for this key
    csrf = w.page.get_attribute("meta[name=csrf-token]", "content")
    w.expect_errors("status of 401")
    retry = f"{explorer_auth}/ui/jobs/retry"
    refused = w.page.request.post(retry, form={"job_id": "1", "csrf_token": csrf or ""})
    assert refused.status == 401
    admin = open_page(explorer_auth)
    _sign_in(admin, key(admin=True))
    assert "Queue by job kind" in admin.page.inner_text("main")
    csrf = admin.page.get_attribute("meta[name=csrf-token]", "content")
    done = admin.page.request.post(retry, form={"job_id": "999999999", "csrf_token": csrf or ""})
    assert done.ok and "Retried job 999999999-none" in done.text()


def test_a_session_key_sees_only_its_session(explorer_auth: str, open_page: Open) -> None:
    ws = _seed(explorer_auth)
    w = open_page(explorer_auth)
    _sign_in(w, key(workspace=ws, session="ours"))
    assert w.open(f"/ui/w/{ws}") == 200  # sent to the one session it reaches
    assert w.page.url.endswith(f"/ui/w/{ws}/s/ours")
    w.page.wait_for_selector("#context-result")
    text = w.page.inner_text("main")
    assert "alice writes here" in text and "bob answers" in text
    w.expect_errors("status of 401")
    for path in (f"/ui/w/{ws}/s/theirs", f"/ui/w/{ws}/p/carol", f"/ui/w/{ws}/c/anything"):
        assert w.open(path) == 401, path
        assert "carol" not in w.page.inner_text("main")
