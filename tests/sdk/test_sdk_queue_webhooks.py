"""Queue status through the SDK (sync and async), and webhooks end to end on a real server.

The SDK has no webhook methods, so webhooks are driven over plain HTTP against a
``honcho-server serve`` of their own (own database, WEBHOOK_* from the environment): its
embedded worker signs and delivers to a local receiver, retrying after a 500.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from honcho import Honcho
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from honcho_server.db.migrate import upgrade
from servers import start_server, stop_server

SECRET = "sdk-test-secret"

# ---- queue status ----------------------------------------------------------------------------


async def _insert_jobs(database_url: str, ws: str, jobs: list[tuple[str, str | None, str]]) -> None:
    """Derivation jobs (kind, session, status) scheduled a day ahead, so no worker runs them."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            for kind, session, status in jobs:
                payload = {"observers": ["alice"], "observed": "bob"}
                await conn.execute(
                    text(
                        "INSERT INTO jobs (kind, payload, workspace_name, session_name, status, "
                        "scheduled_at) VALUES (:kind, CAST(:payload AS jsonb), :ws, :session, "
                        ":status, now() + interval '1 day')"
                    ),
                    {
                        "kind": kind,
                        "payload": json.dumps(payload),
                        "ws": ws,
                        "session": session,
                        "status": status,
                    },
                )
    finally:
        await engine.dispose()


async def _delete_jobs(database_url: str, ws: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM jobs WHERE workspace_name = :ws"), {"ws": ws})
    finally:
        await engine.dispose()


@pytest.fixture
def queued(database_url: str, ws: str) -> Iterator[str]:
    jobs = [
        ("derive", "chat", "todo"),
        ("derive", "chat", "doing"),
        ("summarize", "chat", "succeeded"),
        ("dream", None, "failed"),
        ("delete_session", "chat", "todo"),  # housekeeping: not counted
    ]
    asyncio.run(_insert_jobs(database_url, ws, jobs))
    yield ws
    asyncio.run(_delete_jobs(database_url, ws))


def test_queue_status(honcho: Honcho, queued: str) -> None:
    status = honcho.queue_status()
    assert (
        status.total_work_units,
        status.completed_work_units,
        status.in_progress_work_units,
        status.pending_work_units,
    ) == (4, 2, 1, 1)
    assert status.sessions is not None and list(status.sessions) == ["chat"]
    chat = status.sessions["chat"]
    assert chat.session_id == "chat" and chat.total_work_units == 3

    scoped = honcho.queue_status(observer=honcho.peer("alice"), sender="bob", session="chat")
    assert scoped.total_work_units == 3 and scoped.sessions is None
    assert honcho.queue_status(observer="bob").total_work_units == 0
    by_session = honcho.session("chat").queue_status()
    assert by_session.pending_work_units == 1 and by_session.sessions is None


async def test_queue_status_async(honcho: Honcho, queued: str) -> None:
    status = await honcho.aio.queue_status(sender="bob")
    assert status.total_work_units == 4 and status.completed_work_units == 2


def test_queue_status_of_an_idle_workspace(honcho: Honcho) -> None:
    status = honcho.queue_status()
    assert status.total_work_units == 0 and status.sessions is None


# ---- webhooks on a server of their own --------------------------------------------------------


class Receiver:
    """Records POSTs on 127.0.0.1; answers the scripted statuses first, then 200."""

    def __init__(self, script: list[int]) -> None:
        self.script = script
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.deliveries.append((dict(self.headers.items()), body))
                self.send_response(receiver.script.pop(0) if receiver.script else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.deliveries) < count:
            assert time.monotonic() < deadline, f"only {len(self.deliveries)} deliveries"
            time.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def _admin(url: str, sql: str) -> None:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def hook_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``honcho-server serve`` on a database of its own, so only its worker delivers."""
    name = f"sdkhooks_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(database_url, f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    env = {
        "DATABASE_URL": url,
        "LOG_LEVEL": "WARNING",
        "WEBHOOK_SECRET": SECRET,
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    }
    log_path: Path = tmp_path_factory.mktemp("hooks") / "server.log"
    process, base_url = start_server(env, log_path)
    try:
        yield base_url
    finally:
        stop_server(process)
        asyncio.run(_admin(database_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


def test_webhook_delivered_signed_and_retried(hook_server: str, ws: str) -> None:
    receiver = Receiver(script=[500])
    try:
        with httpx.Client(base_url=hook_server) as http:
            assert http.post("/v3/workspaces", json={"id": ws}).status_code == 201
            hooks = f"/v3/workspaces/{ws}/webhooks"
            created = http.post(hooks, json={"url": receiver.url})
            assert created.status_code == 201 and created.json()["url"] == receiver.url
            assert http.get(f"{hooks}/test").json() is None
            receiver.wait_for(2)  # the 500 is retried after the runner's backoff
            assert [e["url"] for e in http.get(hooks).json()["items"]] == [receiver.url]
    finally:
        receiver.close()
    (headers, first), (_, second) = receiver.deliveries
    assert first == second
    expected = hmac.new(SECRET.encode(), first, hashlib.sha256).hexdigest()
    assert headers["X-Honcho-Signature"] == expected
    assert json.loads(first)["data"] == {"workspace_id": ws}
