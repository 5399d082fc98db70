"""Round trips to Postgres per request on the hot routes, counted in process.

    .venv/bin/python bench/sqlcount.py                # a fresh embedded PostgreSQL
    DATABASE_URL=postgresql://… .venv/bin/python bench/sqlcount.py

Drives the app over ASGI (no network) and counts, per request, the statements it sends and
the BEGIN / COMMIT / ROLLBACK around them (engine events; only the request's own work, not the
in-process worker's). Then, with the in-process worker running (embedding on, the deriver on
without an LLM: its jobs are queued and wait), it counts *everything* the process sends while
ingesting one message per request (one client at a time, then 16 at once) and until the queue
is quiet again: the queue's share of an ingest (claims, completions, wake-ups), with a
breakdown by statement. ``tests/api/test_statement_counts.py`` holds the per-route budgets.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from honcho_server.app import create_app
from honcho_server.db.embedded import EmbeddedPostgres
from honcho_server.db.migrate import upgrade
from honcho_server.settings import Settings
from statement_counter import counting


async def _per_route(client: httpx.AsyncClient, engine: Any) -> None:
    ws = f"sqlcount-{uuid.uuid4().hex[:8]}"
    base = f"/v3/workspaces/{ws}"
    for _ in range(3):
        msgs = [{"peer_id": f"u{i % 3}", "content": f"seed {i} " * 8} for i in range(100)]
        r = await client.post(f"{base}/sessions/s/messages", json={"messages": msgs})
        r.raise_for_status()
    one = {"messages": [{"peer_id": "u1", "content": "hello"}]}
    twenty = {"messages": [{"peer_id": f"u{i % 2}", "content": f"m{i}"} for i in range(20)]}
    cases: list[tuple[str, str, str, Any]] = [
        ("get-or-create workspace (exists)", "POST", "/v3/workspaces", {"id": ws}),
        ("get-or-create peer (exists)", "POST", f"{base}/peers", {"id": "u1"}),
        ("get-or-create session (exists)", "POST", f"{base}/sessions", {"id": "s"}),
        ("get-or-create peer (new)", "POST", f"{base}/peers", {"id": "new-peer"}),
        ("ingest, 1 message", "POST", f"{base}/sessions/s/messages", one),
        ("ingest, 20 messages", "POST", f"{base}/sessions/s/messages", twenty),
        ("list (50 newest)", "POST", f"{base}/sessions/s/messages/list?size=50&reverse=true", {}),
        ("context, 2,000 tokens", "GET", f"{base}/sessions/s/context?tokens=2000", None),
        ("context, whole session", "GET", f"{base}/sessions/s/context", None),
    ]
    print(f"{'route':36} {'round trips':>11}  (statements + BEGIN/COMMIT/ROLLBACK)")
    for name, method, url, body in cases:
        with counting(engine) as c:
            r = await client.request(method, url, json=body)
        r.raise_for_status()
        control = c.begins + c.commits + c.rollbacks
        print(f"{name:36} {c.round_trips:11}  ({len(c.statements)} + {control})")


_POLLING: contextvars.ContextVar[bool] = contextvars.ContextVar("polling", default=False)


def _shape(statement: str) -> str:
    """What a statement is, for the breakdown: the queue's own by what it does, the rest by
    its first words."""
    flat = " ".join(statement.split())
    if "SET status = 'doing'" in flat:
        return "claim (jobs -> doing)"
    if "SET status = 'succeeded'" in flat:
        return "complete (jobs -> succeeded)"
    if "SET heartbeat_at" in flat:
        return "job heartbeat"
    if flat.startswith("INSERT INTO jobs"):
        return "enqueue (INSERT INTO jobs)"
    if "FROM jobs" in flat or "UPDATE jobs" in flat:
        return "other on jobs: " + flat[:60]
    return flat[:70]


async def _queue_share(client: httpx.AsyncClient, engine: Any, n: int = 200) -> None:
    """Everything the process sends per ingested message, the worker's queue work included
    (the embedding itself runs: its job's claim, read, write and completion count too): one
    client sending one message at a time, then 16 clients at once (where many 1-message
    embedding jobs are claimed, embedded and completed as one batch)."""
    for clients, pause in ((1, 0.02), (16, 0.0)):
        await _queue_share_with(client, engine, n, clients, pause)


async def _queue_share_with(
    client: httpx.AsyncClient, engine: Any, n: int, clients: int, pause: float
) -> None:
    ws = f"sqlcount-{uuid.uuid4().hex[:8]}"
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not _POLLING.get():  # not the /status reads of quiet() below
            sent.append(statement)

    async def quiet() -> None:
        for _ in range(600):
            token = _POLLING.set(True)  # seen by the request's task, not by the worker's
            try:
                r = await client.get("/status")
            finally:
                _POLLING.reset(token)
            kinds = r.json()["queue"]["by_kind"].get("embed_messages", {})
            if not kinds.get("todo") and not kinds.get("doing"):
                return
            await asyncio.sleep(0.2)

    await quiet()
    await asyncio.sleep(2.5)  # past an idle poll
    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", record)
    started = time.monotonic()
    counter = iter(range(n))

    async def one_client() -> None:
        for i in counter:
            body = {"messages": [{"peer_id": f"u{i % 4}", "content": f"message {i} about hiking"}]}
            r = await client.post(f"/v3/workspaces/{ws}/sessions/s{i % 4}/messages", json=body)
            r.raise_for_status()
            if pause:
                await asyncio.sleep(pause)

    try:
        await asyncio.gather(*(one_client() for _ in range(clients)))
        await quiet()
    finally:
        event.remove(sync, "before_cursor_execute", record)
    seconds = time.monotonic() - started
    shapes: dict[str, int] = {}
    for statement in sent:
        shapes[_shape(statement)] = shapes.get(_shape(statement), 0) + 1
    jobs = sum(v for k, v in shapes.items() if "jobs" in k or k == "job heartbeat")
    claims = shapes.get("claim (jobs -> doing)", 0)
    print(
        f"\ningest of 1 message, {clients} client(s), worker included (embedding on, deriver "
        f"queued): {len(sent) / n:.2f} statements per message, {jobs / n:.2f} on jobs, "
        f"{claims / n:.2f} claims ({n} messages, {seconds:.1f} s, idle polls included)"
    )
    for shape, count in sorted(shapes.items(), key=lambda kv: -kv[1]):
        print(f"  {count / n:6.2f}  {shape}")


async def measure(url: str) -> None:
    quiet_settings = Settings(
        _env_file=None, database_url=url, embed_messages=False, deriver_enabled=False
    )
    busy_settings = Settings(_env_file=None, database_url=url)
    for settings, run in ((quiet_settings, _per_route), (busy_settings, _queue_share)):
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
                await run(client, app.state.engine)


def main() -> None:
    url = os.environ.get("DATABASE_URL")
    server = None
    data_dir = None
    if url is None:
        data_dir = Path(tempfile.mkdtemp(prefix="honcho-sqlcount-"))
        data_dir.chmod(0o711)
        server = EmbeddedPostgres(data_dir)
        url = server.start()
    try:
        upgrade(url)
        asyncio.run(measure(url))
    finally:
        if server is not None:
            server.stop()
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
