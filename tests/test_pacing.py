"""The in-process worker's embeddings yield to a busy API and catch up after (worker.pacing).

What a user would notice if it went wrong: under a burst of traffic the server answers
slower because it embeds at the same time; or new messages never become searchable by
meaning while traffic lasts, or after it.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from databases import fresh_database
from honcho_server.app import create_app
from honcho_server.observability.concurrency import Concurrency
from honcho_server.schemas.status import QueueSummary, WorkerStatus
from honcho_server.services.status import _problems
from honcho_server.settings import Settings
from honcho_server.worker.pacing import WINDOW_SECONDS, Pacing
from servers import start_server, stop_server


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_concurrency_is_the_mean_in_flight_over_the_last_second() -> None:
    clock = Clock()
    api = Concurrency(tau=1.0, clock=clock)
    for _ in range(16):
        api.entered()
    clock.now += 3
    assert 15.0 < api.average() < 16.0  # 16 (1 - e^-3)
    for _ in range(16):
        api.left()
    assert api.now == 0
    clock.now += 3
    assert api.average() < 1.0
    api.entered()  # one request at a time, a short one a second: nearly idle
    clock.now += 0.01
    api.left()
    clock.now += 1
    assert api.average() < 0.4


def _held(pacing: Pacing) -> bool:
    with pacing.claiming() as allowed:
        return not allowed


def test_bulk_work_runs_a_share_of_the_time_only_while_the_api_is_busy() -> None:
    clock = Clock()
    api = Concurrency(clock=clock)
    pacing = Pacing(api, share=0.25, clock=clock)
    assert not _held(pacing)  # idle API: no limit at all
    with pacing.run("embed_messages"):
        clock.now += 5  # a long batch while idle
    for _ in range(4):
        api.entered()
    clock.now += 2  # busy now
    assert _held(pacing)  # 5 s of the last 10 were bulk: over the 2.5 s share
    assert pacing.paced_since is not None
    clock.now = 1012.6  # the idle-time run (1000-1005) is 2.4 s inside the window
    assert not _held(pacing)
    with pacing.run("derive"):  # other kinds are neither counted nor held
        clock.now += 3
    assert not _held(pacing)
    with pacing.run("embed_messages"):
        assert _held(pacing)  # one bulk run at a time while busy
        clock.now += 3
    assert _held(pacing)  # 3 s of the last 10 were bulk
    clock.now += WINDOW_SECONDS - 2.4  # 2.4 s of that run left in the window
    with pacing.claiming() as allowed:
        assert allowed
        assert _held(pacing)  # while one claim may take bulk work, no other claim may
    assert not _held(pacing)
    for _ in range(4):
        api.left()
    clock.now += 3
    with pacing.run("embed_messages"):
        clock.now += 9
    assert not _held(pacing)  # idle again: no limit, however much bulk ran
    assert pacing.paced_since is None
    assert not _held(Pacing(Concurrency(clock=clock), share=1.0, clock=clock))


@pytest.fixture
async def db_url(database_url: str) -> AsyncIterator[str]:
    async with fresh_database(database_url) as url:
        yield url


async def _burst(base_url: str, session: str, seconds: float, clients: int = 8) -> int:
    """``clients`` clients ingesting one message per request for ``seconds``: how many."""
    stored = 0

    async def one(n: int) -> None:
        nonlocal stored
        path = f"/v3/workspaces/w/sessions/{session}/messages"
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            while time.monotonic() < until:
                body = {"messages": [{"peer_id": f"p{n}", "content": f"note {stored} on tea"}]}
                r = await client.post(path, json=body)
                assert r.status_code == 201, r.text
                stored += 1

    until = time.monotonic() + seconds
    await asyncio.gather(*(one(n) for n in range(clients)))
    return stored


async def _embedded(db: asyncpg.Connection, session: str) -> int:
    return int(
        await db.fetchval(
            "SELECT count(DISTINCT e.message_id) FROM message_embeddings e"
            " JOIN messages m ON m.id = e.message_id WHERE m.session_name = $1",
            session,
        )
    )


async def test_a_real_server_holds_embeddings_during_a_burst_and_catches_up_after(
    db_url: str, tmp_path: Path
) -> None:
    """Two bursts against one real ``serve``: with the share at 1 (pacing off) the worker
    embeds during the burst; with a small share it embeds far less during the same burst;
    either way every message is embedded within seconds of the burst's end."""
    db = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        during: dict[str, float] = {}
        for label, share in (("off", "1"), ("paced", "0.05")):
            env = {
                "DATABASE_URL": db_url,
                "EMBED_MESSAGES": "true",
                "DERIVER_ENABLED": "false",
                "SUMMARY_ENABLED": "false",
                "ACCESS_LOG": "false",
                "EMBED_SHARE_WHEN_BUSY": share,
            }
            process, base_url = start_server(env, tmp_path / f"{label}.log")
            try:
                burst = asyncio.ensure_future(_burst(base_url, label, seconds=4))
                await asyncio.sleep(2.5)
                async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
                    mid = (await client.get("/status")).json()["workers"][0]["bulk_paced_since"]
                assert (mid is not None) == (share != "1"), mid  # the operator sees it
                stored = await burst
                embedded = await _embedded(db, label)
                during[label] = embedded / stored
                print(f"\n{label}: {stored} stored, {embedded} embedded by the burst's end")
                deadline = time.monotonic() + 60
                while await _embedded(db, label) < stored and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                caught_up = time.monotonic() - (deadline - 60)
                print(f"{label}: all {stored} embedded {caught_up:.1f} s after the burst")
                assert await _embedded(db, label) == stored
                async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
                    for _ in range(50):  # the worker reports within a second or so
                        after = (await client.get("/status")).json()["workers"][0]
                        if after["bulk_paced_since"] is None:
                            break
                        await asyncio.sleep(0.1)
                assert after["bulk_paced_since"] is None
            finally:
                assert stop_server(process) == 0
        # unpaced, this machine embedded 77% of a burst's messages during it; paced, 5%
        assert during["paced"] < 0.3, during
    finally:
        await db.close()


def test_an_old_backlog_behind_a_paced_worker_says_why_and_what_to_do() -> None:
    now = datetime.now(UTC)
    worker = WorkerStatus(
        id="h:1:ab", started_at=now, heartbeat_at=now, alive=True, bulk_paced_since=now
    )
    queue = QueueSummary(
        pending=900,
        due=900,
        running=0,
        failed=0,
        succeeded=0,
        superseded=0,
        orphaned=0,
        oldest_pending_age_seconds=400.0,
        by_kind={"embed_messages": {"todo": 900}},
    )
    [line] = _problems([worker], queue)
    assert line.startswith("the oldest pending job has waited 400 s (worker h:1:ab embeds ")
    assert "EMBED_SHARE_WHEN_BUSY" in line and "separate `honcho-server worker`" in line
    waiting_on_llm = queue.model_copy(update={"by_kind": {"derive": {"todo": 900}}})
    assert _problems([worker], waiting_on_llm) == ["the oldest pending job has waited 400 s"]
    unpaced = worker.model_copy(update={"bulk_paced_since": None})
    assert _problems([unpaced], queue) == ["the oldest pending job has waited 400 s"]


async def test_a_v2_request_counts_once_though_it_runs_a_v3_route_inside(
    settings: Settings, ws: str
) -> None:
    """One client sending v2 requests back to back keeps one request in flight, not two (a
    v2 route runs its v3 route through the app again): the API reads as busy only when it
    is, so a single v2 or MCP client never holds embeddings back."""
    app = create_app(settings)
    slowest = 0.0
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            # The client is this test process, which after the whole suite holds enough
            # objects for a full GC pass to take seconds (once read 0.05 in CI): between two
            # requests, that would count as the API idle. The server's own heap is frozen.
            gc.collect()
            gc.disable()
            try:
                until = time.monotonic() + 2.5
                while time.monotonic() < until:
                    started = time.monotonic()
                    r = await client.post(f"/v2/workspaces/{ws}/peers", json={"name": "alice"})
                    assert r.status_code == 200, r.text
                    slowest = max(slowest, time.monotonic() - started)
                busy = app.concurrency.average()
            finally:
                gc.enable()
    print(f"\nmean requests in flight, one v2 client: {busy:.2f} (slowest {slowest:.3f} s)")
    assert 0.3 < busy <= 1.0  # counted (not 0), and once (a double count reads up to 2)
