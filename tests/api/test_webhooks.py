"""Webhook endpoints (registration rules) and delivery (signed, durable, retried per endpoint).

Registration runs on the shared app, whose default settings refuse private addresses.
Delivery runs on an app of its own with its own database, so no other test's worker can claim
its jobs: it allows loopback URLs, so a local receiver gets the requests, and the test drives
the worker one step at a time with ``run_once``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from honcho_server.app import create_app
from honcho_server.db.migrate import upgrade
from honcho_server.db.session import unit_of_work
from honcho_server.settings import Settings
from honcho_server.worker.context import WorkerServices
from honcho_server.worker.kinds.webhooks import enqueue_queue_empty
from honcho_server.worker.runner import run_once
from servers import free_port

SECRET = "test-secret"

# ---- a local receiver ------------------------------------------------------------------------


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    connections_checked_out: int | None


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers as scripted."""

    engine: AsyncEngine | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    script: dict[str, list[int]] = field(default_factory=dict)  # path → statuses, then 200
    delay: float = 0.0
    server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/hook") -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        pool = self.engine.sync_engine.pool if self.engine is not None else None
        out = pool.checkedout() if pool is not None else None  # type: ignore[attr-defined]
        self.deliveries.append(Delivery(path, headers, body, out))
        time.sleep(self.delay)
        statuses = self.script.get(path, [])
        return statuses.pop(0) if statuses else 200


def _serve(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = receiver.answer(self.path, dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# ---- an app on a database of its own ---------------------------------------------------------


async def _admin(url: str, sql: str) -> None:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def own_database(database_url: str) -> Iterator[str]:
    name = f"hooks_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(database_url, f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    asyncio.run(_admin(database_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def hook_settings(own_database: str) -> Settings:
    return Settings(
        _env_file=None,
        database_url=own_database,
        embedded_worker=False,  # the tests run the worker step by step
        webhook_allow_private_urls=True,
        webhook_secret=SECRET,
        webhook_timeout_seconds=5,
    )


@pytest.fixture(scope="module")
async def hook_app(hook_settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(hook_settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def hooks(hook_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the delivery app, on an empty queue."""
    await _sql(hook_app, "DELETE FROM jobs")
    transport = httpx.ASGITransport(app=hook_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
def receiver(hook_app: FastAPI) -> Iterator[Receiver]:
    r = Receiver(engine=hook_app.state.engine)
    r.server = _serve(r)
    yield r
    r.server.shutdown()
    r.server.server_close()


async def _sql(app: FastAPI, sql: str, **params: Any) -> None:
    async with unit_of_work(app.state.session_factory) as db:
        await db.execute(text(sql), params)


async def _step(app: FastAPI, settings: Settings) -> bool:
    services = WorkerServices(settings=settings)
    return await run_once(app.state.session_factory, "test-worker", services)


async def _jobs(app: FastAPI, ws: str) -> list[Any]:
    sql = text(
        "SELECT status, attempts, last_error, scheduled_at > now() AS later, payload "
        "FROM jobs WHERE workspace_name = :ws ORDER BY id"
    )
    async with unit_of_work(app.state.session_factory) as db:
        return list((await db.execute(sql, {"ws": ws})).all())


async def _register(client: httpx.AsyncClient, ws: str, *urls: str) -> list[dict[str, Any]]:
    assert (await client.post("/v3/workspaces", json={"id": ws})).status_code in (200, 201)
    out = []
    for url in urls:
        r = await client.post(f"/v3/workspaces/{ws}/webhooks", json={"url": url})
        assert r.status_code == 201, r.text
        out.append(r.json())
    return out


def _signature(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# ---- registration ----------------------------------------------------------------------------


async def test_register_list_delete(client: httpx.AsyncClient, ws: str) -> None:
    assert (await client.post("/v3/workspaces", json={"id": ws})).status_code == 201
    url = f"/v3/workspaces/{ws}/webhooks"
    first = await client.post(url, json={"url": "https://hooks.example.com/a"})
    assert first.status_code == 201
    body = first.json()
    assert list(body) == ["id", "workspace_id", "url", "created_at"]
    assert body["workspace_id"] == ws and body["url"] == "https://hooks.example.com/a"
    assert len(body["id"]) == 21 and body["created_at"].endswith("Z")

    again = await client.post(url, json={"url": "https://hooks.example.com/a"})
    assert again.status_code == 200 and again.json() == body
    second = (await client.post(url, json={"url": "http://8.8.8.8:8080/b?x=1"})).json()

    listed = (await client.get(url)).json()
    assert [e["id"] for e in listed["items"]] == [body["id"], second["id"]]
    assert (listed["total"], listed["page"], listed["size"], listed["pages"]) == (2, 1, 50, 1)
    page2 = (await client.get(url, params={"page": 2, "size": 1})).json()
    assert [e["id"] for e in page2["items"]] == [second["id"]] and page2["pages"] == 2

    deleted = await client.delete(f"{url}/{body['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    missing = await client.delete(f"{url}/{body['id']}")
    assert missing.status_code == 404 and isinstance(missing.json()["detail"], str)
    assert [e["id"] for e in (await client.get(url)).json()["items"]] == [second["id"]]
    # an endpoint is only reachable through its own workspace
    other = await client.delete(f"/v3/workspaces/{ws}-other/webhooks/{second['id']}")
    assert other.status_code == 404


async def test_workspace_must_exist(client: httpx.AsyncClient, ws: str) -> None:
    r = await client.post(f"/v3/workspaces/{ws}/webhooks", json={"url": "https://example.com"})
    assert r.status_code == 404 and r.json() == {"detail": f"Workspace {ws} not found"}
    listed = (await client.get(f"/v3/workspaces/{ws}/webhooks")).json()
    assert listed["items"] == [] and listed["total"] == 0
    test = await client.get(f"/v3/workspaces/{ws}/webhooks/test")
    assert test.status_code == 200 and test.json() is None


async def test_deleted_workspace_is_missing(client: httpx.AsyncClient, ws: str) -> None:
    await client.post("/v3/workspaces", json={"id": ws})
    assert (await client.delete(f"/v3/workspaces/{ws}")).status_code in (200, 202)
    r = await client.post(f"/v3/workspaces/{ws}/webhooks", json={"url": "https://example.com"})
    assert r.status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "example.com/hook",
        "http://",
        "https:///path-only",
        "http://example.com:99999/",
        "http://exa mple.com/",
        " https://example.com/",
        "https://example.com/\x00",
        "https://example.com/" + "a" * 2029,  # 2,049 characters
        "http://127.0.0.1:8000/hook",
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f.0.0.1/",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://[::1]/",
        "http://[::]/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[ff02::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost:8000/",
        "http://LOCALHOST/",
        "http://api.localhost./",
    ],
)
async def test_invalid_urls_are_422(client: httpx.AsyncClient, ws: str, url: str) -> None:
    await client.post("/v3/workspaces", json={"id": ws})
    r = await client.post(f"/v3/workspaces/{ws}/webhooks", json={"url": url})
    assert r.status_code == 422, url
    (error,) = r.json()["detail"]
    assert error["loc"] == ["body", "url"] and error["msg"].startswith("Value error, ")


async def test_public_urls_are_accepted(client: httpx.AsyncClient, ws: str) -> None:
    await client.post("/v3/workspaces", json={"id": ws})
    longest = "https://example.com/" + "a" * 2028  # exactly 2,048 characters
    for url in (longest, "HTTPS://Example.com", "http://[2606:4700::1111]/x", "http://1.1.1.1"):
        r = await client.post(f"/v3/workspaces/{ws}/webhooks", json={"url": url})
        assert r.status_code == 201, url
    missing = await client.post(f"/v3/workspaces/{ws}/webhooks", json={})
    assert missing.status_code == 422


async def test_limit_per_workspace_is_409(client: httpx.AsyncClient, ws: str) -> None:
    await client.post("/v3/workspaces", json={"id": ws})
    url = f"/v3/workspaces/{ws}/webhooks"
    for i in range(10):
        r = await client.post(url, json={"url": f"https://example.com/{i}"})
        assert r.status_code == 201
    full = await client.post(url, json={"url": "https://example.com/10"})
    assert full.status_code == 409 and "10" in full.json()["detail"]
    # already registered: still answered when the workspace is full
    assert (await client.post(url, json={"url": "https://example.com/3"})).status_code == 200


async def test_limit_holds_under_concurrent_registrations(
    hooks: httpx.AsyncClient, ws: str
) -> None:
    await hooks.post("/v3/workspaces", json={"id": ws})
    replies = await asyncio.gather(
        *(
            hooks.post(f"/v3/workspaces/{ws}/webhooks", json={"url": f"https://e.com/{i}"})
            for i in range(14)
        )
    )
    assert sorted(r.status_code for r in replies) == [201] * 10 + [409] * 4
    assert (await hooks.get(f"/v3/workspaces/{ws}/webhooks")).json()["total"] == 10


# ---- delivery --------------------------------------------------------------------------------


async def test_test_event_is_signed_and_sent_without_holding_a_connection(
    hooks: httpx.AsyncClient,
    hook_app: FastAPI,
    hook_settings: Settings,
    receiver: Receiver,
    ws: str,
) -> None:
    await _register(hooks, ws, receiver.url())
    r = await hooks.get(f"/v3/workspaces/{ws}/webhooks/test")
    assert r.status_code == 200 and r.content == b"null"
    assert await _step(hook_app, hook_settings)
    assert not await _step(hook_app, hook_settings)  # one endpoint, one job

    (sent,) = receiver.deliveries
    assert sent.path == "/hook"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["X-Honcho-Signature"] == _signature(sent.body)
    assert len(sent.headers["X-Honcho-Event-Id"]) == 21
    event = json.loads(sent.body)
    assert sent.body == json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
    assert list(event) == ["data", "timestamp", "type"]
    assert event["type"] == "test.event" and event["data"] == {"workspace_id": ws}
    assert event["timestamp"].endswith("Z")
    assert datetime.fromisoformat(event["timestamp"]).utcoffset() is not None
    assert sent.connections_checked_out == 0  # the POST ran with no database connection held
    ((status, attempts, last_error, _, _),) = await _jobs(hook_app, ws)
    assert (status, attempts, last_error) == ("succeeded", 1, None)


async def test_failed_delivery_is_retried_with_the_same_bytes(
    hooks: httpx.AsyncClient,
    hook_app: FastAPI,
    hook_settings: Settings,
    receiver: Receiver,
    ws: str,
) -> None:
    await _register(hooks, ws, receiver.url())
    receiver.script["/hook"] = [500, 302]
    await hooks.get(f"/v3/workspaces/{ws}/webhooks/test")
    assert await _step(hook_app, hook_settings)
    ((status, attempts, last_error, later, _),) = await _jobs(hook_app, ws)
    assert (status, attempts, later) == ("todo", 1, True)  # backed off
    assert "HTTP 500" in last_error and "/hook" not in last_error  # no path in errors
    assert not await _step(hook_app, hook_settings)  # not due yet

    for expected_attempts in (2, 3):
        await _sql(
            hook_app, "UPDATE jobs SET scheduled_at = now() WHERE workspace_name = :ws", ws=ws
        )
        assert await _step(hook_app, hook_settings)
        ((status, attempts, last_error, _, _),) = await _jobs(hook_app, ws)
        assert attempts == expected_attempts
    assert (status, last_error) == ("succeeded", None)  # a redirect (302) also counted as failed
    first, second, third = receiver.deliveries
    assert first.body == second.body == third.body
    assert {d.headers["X-Honcho-Signature"] for d in receiver.deliveries} == {
        _signature(first.body)
    }
    assert len({d.headers["X-Honcho-Event-Id"] for d in receiver.deliveries}) == 1


async def test_each_endpoint_retries_on_its_own(
    hooks: httpx.AsyncClient,
    hook_app: FastAPI,
    hook_settings: Settings,
    receiver: Receiver,
    ws: str,
) -> None:
    await _register(hooks, ws, receiver.url("/ok"), receiver.url("/down"))
    receiver.script["/down"] = [503]
    await hooks.get(f"/v3/workspaces/{ws}/webhooks/test")
    assert await _step(hook_app, hook_settings)
    assert await _step(hook_app, hook_settings)
    by_path = {j.payload["url"].rsplit("/", 1)[1]: j for j in await _jobs(hook_app, ws)}
    assert by_path["ok"].status == "succeeded"
    assert by_path["down"].status == "todo" and "HTTP 503" in by_path["down"].last_error
    assert sorted(d.path for d in receiver.deliveries) == ["/down", "/ok"]


async def test_unreachable_endpoint_fails_for_good_after_the_last_attempt(
    hooks: httpx.AsyncClient, hook_app: FastAPI, hook_settings: Settings, ws: str
) -> None:
    await _register(hooks, ws, f"http://127.0.0.1:{free_port()}/nobody-home")
    await hooks.get(f"/v3/workspaces/{ws}/webhooks/test")
    assert await _step(hook_app, hook_settings)
    ((status, _, last_error, _, _),) = await _jobs(hook_app, ws)
    assert status == "todo" and "ConnectError" in last_error
    await _sql(
        hook_app,
        "UPDATE jobs SET scheduled_at = now(), attempts = max_attempts - 1 "
        "WHERE workspace_name = :ws",
        ws=ws,
    )
    assert await _step(hook_app, hook_settings)
    ((status, attempts, last_error, _, _),) = await _jobs(hook_app, ws)
    assert (status, attempts) == ("failed", 10) and "ConnectError" in last_error


async def test_slow_receiver_times_out(
    hooks: httpx.AsyncClient,
    hook_app: FastAPI,
    hook_settings: Settings,
    receiver: Receiver,
    ws: str,
) -> None:
    await _register(hooks, ws, receiver.url())
    receiver.delay = 1.0
    await hooks.get(f"/v3/workspaces/{ws}/webhooks/test")
    impatient = hook_settings.model_copy(update={"webhook_timeout_seconds": 0.2})
    started = time.monotonic()
    assert await _step(hook_app, impatient)
    assert time.monotonic() - started < 0.9
    ((status, _, last_error, _, _),) = await _jobs(hook_app, ws)
    assert status == "todo" and "did not answer within 0.2 s" in last_error


async def test_without_a_secret_nothing_is_sent(
    hooks: httpx.AsyncClient,
    hook_app: FastAPI,
    hook_settings: Settings,
    receiver: Receiver,
    ws: str,
) -> None:
    await _register(hooks, ws, receiver.url())
    await hooks.get(f"/v3/workspaces/{ws}/webhooks/test")
    assert await _step(hook_app, hook_settings.model_copy(update={"webhook_secret": None}))
    assert receiver.deliveries == []
    ((status, _, last_error, _, _),) = await _jobs(hook_app, ws)
    assert status == "todo" and "WEBHOOK_SECRET is not set" in last_error


async def test_queue_empty_sends_nulls(
    hooks: httpx.AsyncClient,
    hook_app: FastAPI,
    hook_settings: Settings,
    receiver: Receiver,
    ws: str,
) -> None:
    await _register(hooks, ws, receiver.url())
    async with unit_of_work(hook_app.state.session_factory) as db:
        queued = await enqueue_queue_empty(db, ws, "summary", "chat", None, None)
        assert queued == 1
    assert await _step(hook_app, hook_settings)
    (sent,) = receiver.deliveries
    assert b'"observed":null,"observer":null' in sent.body
    event = json.loads(sent.body)
    assert event["type"] == "queue.empty"
    assert event["data"] == {
        "workspace_id": ws,
        "queue_type": "summary",
        "session_id": "chat",
        "observer": None,
        "observed": None,
    }


async def test_no_endpoints_no_jobs(hooks: httpx.AsyncClient, hook_app: FastAPI, ws: str) -> None:
    await hooks.post("/v3/workspaces", json={"id": ws})
    assert (await hooks.get(f"/v3/workspaces/{ws}/webhooks/test")).json() is None
    async with unit_of_work(hook_app.state.session_factory) as db:
        assert await enqueue_queue_empty(db, ws, "representation", "s", None, "alice") == 0
    assert await _jobs(hook_app, ws) == []


async def test_deleting_an_endpoint_cancels_its_waiting_deliveries(
    hooks: httpx.AsyncClient,
    hook_app: FastAPI,
    hook_settings: Settings,
    receiver: Receiver,
    ws: str,
) -> None:
    gone, kept = await _register(hooks, ws, receiver.url("/gone"), receiver.url("/kept"))
    receiver.script["/gone"] = [500]
    receiver.script["/kept"] = [500]
    await hooks.get(f"/v3/workspaces/{ws}/webhooks/test")
    assert await _step(hook_app, hook_settings)
    assert await _step(hook_app, hook_settings)
    assert [j.status for j in await _jobs(hook_app, ws)] == ["todo", "todo"]
    await hooks.delete(f"/v3/workspaces/{ws}/webhooks/{gone['id']}")
    (left,) = await _jobs(hook_app, ws)
    assert left.payload["endpoint_id"] == kept["id"]
