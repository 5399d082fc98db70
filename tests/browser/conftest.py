"""Browser tests of the memory explorer: Debian's Chromium, driven by Playwright for Python,
against live ``honcho-server serve`` processes (the real CLI) whose data is made through the
official SDK. Playwright never downloads a browser here: it launches /usr/bin/chromium.

Every page a test opens is watched: a console error, an uncaught page error or a failed
request for one of the page's assets fails the test. Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright
from sqlalchemy.engine import make_url

from fakes.fixtures import fake_openai_server  # noqa: F401 - fixture
from fakes.openai_server import FakeOpenAIServer
from honcho_server.auth.keys import mint
from honcho_server.db.migrate import upgrade
from sdk.test_sdk_queue_webhooks import _admin
from servers import start_server, stop_server

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
SECRET = "explorer-browser-secret-4c1d8e2b9a7f4e6d8b0c2a4e6f8a0b2c"

if not Path(CHROMIUM).exists() and not os.environ.get("CI"):  # .ci/run installs it
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Per module: the sync API runs an event loop on this thread while it lives, which the
    rest of the suite's asyncio tests cannot share, so it stops when the module's tests end."""
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def server_logs() -> dict[str, Path]:
    """Each live server's log file, by its base URL."""
    return {}


def _serve(
    database_url: str,
    tmp: Path,
    fake: FakeOpenAIServer,
    extra: dict[str, str],
    logs: dict[str, Path],
) -> Iterator[str]:
    """``serve`` on a database of its own: its worker has an LLM (the fake), so on the shared
    test database it would take other servers' LLM jobs (and the fake's scripted replies)."""
    env = {
        "DERIVER_ENABLED": "false",
        "SUMMARY_ENABLED": "false",
        "DREAM_ENABLED": "false",
        "PEER_CARD_ENABLED": "false",
        "LLM_BASE_URL": fake.base_url,
        "LLM_MODEL": "fake-model",
        "LLM_API_KEY": "test",
        # the agent asks once, streamed (with tools, a model that answers without calling
        # any is answered whole: nothing left to stream)
        "DIALECTIC_TOOL_MODE": "prompt",
        **extra,
    }
    with fresh_server(database_url, tmp, env) as base_url:
        logs[base_url] = tmp / "server.log"
        yield base_url


@pytest.fixture(scope="module")
def explorer(
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    fake_openai_server: FakeOpenAIServer,  # noqa: F811
    server_logs: dict[str, Path],
) -> Iterator[str]:
    """``serve`` with auth off (the default), its chat answered by the fake LLM."""
    tmp = tmp_path_factory.mktemp("explorer")
    yield from _serve(database_url, tmp, fake_openai_server, {}, server_logs)


@pytest.fixture(scope="module")
def explorer_auth(
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    fake_openai_server: FakeOpenAIServer,  # noqa: F811
    server_logs: dict[str, Path],
) -> Iterator[str]:
    """``serve`` with auth on."""
    # INFO: the access log is on, so the tests can check that no key reaches it
    extra = {"AUTH_USE_AUTH": "true", "AUTH_JWT_SECRET": SECRET, "LOG_LEVEL": "INFO"}
    tmp = tmp_path_factory.mktemp("auth")
    yield from _serve(database_url, tmp, fake_openai_server, extra, server_logs)


def _elsewhere(call: Callable[..., Any], *args: Any) -> None:
    """``call`` on a thread of its own: it runs an event loop, and this thread's is
    Playwright's (the session's browser starts first)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(call, *args).result()


def _run(work: Coroutine[Any, Any, None]) -> None:
    _elsewhere(asyncio.run, work)


@contextmanager
def fresh_server(database_url: str, tmp: Path, env: dict[str, str]) -> Iterator[str]:
    """``serve`` on a database of its own, migrated, dropped afterwards: for a worker that
    must take no other server's jobs, or a vector space the shared database does not have."""
    with fresh_server_and_database(database_url, tmp, env) as (base_url, _):
        yield base_url


@contextmanager
def fresh_server_and_database(
    database_url: str, tmp: Path, env: dict[str, str]
) -> Iterator[tuple[str, str]]:
    """:func:`fresh_server`, with its database's URL (for :func:`sql`)."""
    name = f"explorer_{uuid.uuid4().hex[:12]}"
    _run(_admin(database_url, f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    _elsewhere(upgrade, url)
    process, base_url = start_server(
        {"LOG_LEVEL": "WARNING", **env, "DATABASE_URL": url}, tmp / "server.log"
    )
    try:
        yield base_url, url
    finally:
        stop_server(process)
        _run(_admin(database_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


def sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    """Run ``statement`` on the database at ``url``; its rows (none for a command)."""
    rows: list[tuple[Any, ...]] = []

    async def run() -> None:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn)
        try:
            rows.extend(tuple(r) for r in await conn.fetch(statement))
        finally:
            await conn.close()

    _run(run())
    return rows


def key(**claims: str | bool) -> str:
    return mint(SECRET, **claims)  # type: ignore[arg-type]


@dataclass
class Watched:
    """A page whose console errors, page errors and failed requests are recorded."""

    page: Page
    base_url: str
    problems: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def open(self, path: str) -> int:
        response = self.page.goto(self.base_url + path)
        assert response is not None
        self.page.wait_for_load_state("networkidle")
        return response.status

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def expect_errors(self, fragment: str) -> None:
        """Errors with ``fragment`` are the point of this test (e.g. a refused request)."""
        self.allowed.append(fragment)

    def unexpected(self) -> list[str]:
        return [p for p in self.problems if not any(a in p for a in self.allowed)]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Watched]]:
    watched: list[Watched] = []
    contexts = []

    def make(base_url: str, scheme: str = "light") -> Watched:
        context = browser.new_context(
            viewport={"width": 1280, "height": 900},
            color_scheme=scheme,  # type: ignore[arg-type]
        )
        contexts.append(context)
        page = context.new_page()
        w = Watched(page, base_url)

        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                w.problems.append(f"console: {message.text} ({page.url})")

        def failed(request: Request) -> None:
            w.problems.append(f"request failed: {request.method} {request.url} {request.failure}")

        page.on("console", console)
        page.on("pageerror", lambda error: w.problems.append(f"page error: {error}"))
        page.on("requestfailed", failed)
        page.on("dialog", lambda dialog: dialog.accept())
        watched.append(w)
        return w

    yield make
    for context in contexts:
        context.close()
    for w in watched:
        assert w.unexpected() == [], w.unexpected()
