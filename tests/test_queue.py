"""Queue semantics on real Postgres: exclusive claims, per-unit ordering, retries, poison jobs,
recovery from a killed worker, and the transactional outbox."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from databases import fresh_database
from honcho_server.db.engine import create_engine, create_session_factory
from honcho_server.db.session import unit_of_work
from honcho_server.queue import retry_jobs
from honcho_server.settings import Settings
from honcho_server.worker.kinds.probe import Probe, enqueue_probe
from honcho_server.worker.maintenance import requeue_stale_jobs
from honcho_server.worker.runner import run_forever, run_once


@dataclass
class QueueDb:
    url: str
    factory: async_sessionmaker[AsyncSession]

    async def jobs(self) -> list[Any]:
        async with self.factory() as db:
            rows = await db.execute(
                text(
                    "SELECT id, status, attempts, worker_id, started_at, finished_at, last_error,"
                    " payload->>'note' AS note FROM jobs WHERE kind = 'probe' ORDER BY id"
                )
            )
            return list(rows.all())


@pytest.fixture
async def queue_db(database_url: str) -> AsyncIterator[QueueDb]:
    """A fresh, migrated database: no other worker (like the test app's) can touch its jobs."""
    async with fresh_database(database_url) as url:
        engine = create_engine(Settings(_env_file=None, database_url=url), url)
        try:
            yield QueueDb(url, create_session_factory(engine))
        finally:
            await engine.dispose()


async def _enqueue(
    q: QueueDb, *probes: Probe, lock_key: str | None = None, max_attempts: int = 5
) -> None:
    async with unit_of_work(q.factory) as db:
        for p in probes:
            await enqueue_probe(db, p, lock_key=lock_key, max_attempts=max_attempts)


async def _run_workers(q: QueueDb, n: int, until_done: int, timeout: float = 30) -> None:
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(run_forever(q.factory, stop, database_url=q.url)) for _ in range(n)
    ]
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if sum(j.status in ("succeeded", "failed") for j in await q.jobs()) >= until_done:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("jobs did not finish in time")
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_concurrent_workers_never_run_the_same_job(queue_db: QueueDb) -> None:
    await _enqueue(queue_db, *(Probe(note=f"j{i}", sleep_seconds=0.005) for i in range(80)))
    await _run_workers(queue_db, 4, until_done=80)
    jobs = await queue_db.jobs()
    assert [j.status for j in jobs] == ["succeeded"] * 80
    assert all(j.attempts == 1 for j in jobs)  # each claimed exactly once
    assert len({j.worker_id for j in jobs}) > 1  # and the work really was shared


async def test_one_work_unit_runs_in_order_one_at_a_time(queue_db: QueueDb) -> None:
    await _enqueue(
        queue_db, *(Probe(note=f"u{i}", sleep_seconds=0.03) for i in range(8)), lock_key="unit-a"
    )
    await _enqueue(queue_db, *(Probe(note=f"free{i}") for i in range(8)))
    await _run_workers(queue_db, 4, until_done=16)
    unit = [j for j in await queue_db.jobs() if j.note.startswith("u")]
    assert [j.note for j in sorted(unit, key=lambda j: j.started_at)] == [f"u{i}" for i in range(8)]
    for earlier, later in itertools.pairwise(unit):
        assert later.started_at >= earlier.finished_at  # never two at once


async def test_poison_job_fails_alone_and_stays_retryable(queue_db: QueueDb) -> None:
    await _enqueue(
        queue_db,
        Probe(note="ok-1"),
        Probe(note="poison", fail=True),
        Probe(note="ok-2"),
        max_attempts=3,
    )
    for _ in range(40):
        await run_once(queue_db.factory, "w1", backoff_base=0.01)
        if {j.status for j in await queue_db.jobs()} <= {"succeeded", "failed"}:
            break
        await asyncio.sleep(0.02)
    by_note = {j.note: j for j in await queue_db.jobs()}
    assert by_note["ok-1"].status == by_note["ok-2"].status == "succeeded"
    poison = by_note["poison"]
    assert (poison.status, poison.attempts) == ("failed", 3)
    assert "asked to fail" in poison.last_error
    async with unit_of_work(queue_db.factory) as db:
        assert await retry_jobs(db, [poison.id]) == {"todo": 1}
    assert {j.note: j.status for j in await queue_db.jobs()}["poison"] == "todo"


async def test_failed_attempt_backs_off(queue_db: QueueDb) -> None:
    await _enqueue(queue_db, Probe(note="flaky", fail=True), max_attempts=5)
    assert await run_once(queue_db.factory, "w1", backoff_base=30)
    async with queue_db.factory() as db:
        delay = await db.scalar(text("SELECT scheduled_at - now() FROM jobs WHERE kind = 'probe'"))
    assert timedelta(seconds=25) < delay <= timedelta(seconds=31)
    assert not await run_once(queue_db.factory, "w1")  # not due yet: nothing to claim


async def test_shutdown_releases_an_unfinished_job(queue_db: QueueDb) -> None:
    await _enqueue(queue_db, Probe(note="long", sleep_seconds=30))
    stop = asyncio.Event()
    step = asyncio.create_task(run_once(queue_db.factory, "w1", stop=stop, grace=0.2))
    while (await queue_db.jobs())[0].status != "doing":
        await asyncio.sleep(0.02)
    stop.set()
    assert await step
    job = (await queue_db.jobs())[0]
    assert (job.status, job.attempts) == ("todo", 0)  # back in the queue, attempt not spent


def _worker_process(url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "INFO"}
    return subprocess.Popen(
        [sys.executable, "-m", "honcho_server", "worker"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


async def test_killed_worker_loses_nothing(queue_db: QueueDb, tmp_path: Path) -> None:
    await _enqueue(queue_db, Probe(note="survivor", sleep_seconds=60, sleep_on_attempts=1))
    proc = _worker_process(queue_db.url, tmp_path / "worker.log")
    try:
        for _ in range(300):
            if (await queue_db.jobs())[0].status == "doing":
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError((tmp_path / "worker.log").read_text())
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (await queue_db.jobs())[0].status == "doing"  # the dead worker's claim remains
    await asyncio.sleep(0.05)
    assert await requeue_stale_jobs(queue_db.factory, stale_after=timedelta(0)) == 1
    assert (await queue_db.jobs())[0].status == "todo"
    assert await run_once(queue_db.factory, "w2")  # second attempt does not sleep
    job = (await queue_db.jobs())[0]
    assert (job.status, job.attempts) == ("succeeded", 2)


async def test_outbox_job_exists_only_if_its_data_committed(queue_db: QueueDb) -> None:
    # A writer dies between inserting (data + job) and committing: neither survives.
    victim = await asyncio.wait_for(queue_db.factory().connection(), 5)
    pid = await victim.scalar(text("SELECT pg_backend_pid()"))
    await victim.execute(text("INSERT INTO workspaces (name) VALUES ('half-written')"))
    await victim.execute(
        text(
            "INSERT INTO jobs (kind, payload, workspace_name)"
            " VALUES ('probe', '{\"note\": \"lost\"}', 'half-written')"
        )
    )
    async with queue_db.factory() as other:
        await other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    with pytest.raises(Exception):  # noqa: B017 - the connection is gone, whatever the driver says
        await victim.commit()
    async with queue_db.factory() as db:
        assert (
            await db.scalar(text("SELECT count(*) FROM workspaces WHERE name = 'half-written'"))
            == 0
        )
        assert await db.scalar(text("SELECT count(*) FROM jobs")) == 0
    # Committed together: both exist, and a worker runs the job.
    async with unit_of_work(queue_db.factory) as db:
        await db.execute(text("INSERT INTO workspaces (name) VALUES ('whole')"))
        await enqueue_probe(db, Probe(note="kept"))
    assert await run_once(queue_db.factory, "w1")
    assert [(j.note, j.status) for j in await queue_db.jobs()] == [("kept", "succeeded")]


async def test_notify_wakes_an_idle_worker_quickly(queue_db: QueueDb) -> None:
    stop = asyncio.Event()
    worker = asyncio.create_task(run_forever(queue_db.factory, stop, database_url=queue_db.url))
    await asyncio.sleep(2.5)  # idle: past the first poll, waiting on LISTEN
    started = time.monotonic()
    await _enqueue(queue_db, Probe(note="ping"))
    while (await queue_db.jobs())[0].status != "succeeded":
        await asyncio.sleep(0.01)
    latency = time.monotonic() - started
    stop.set()
    await worker
    assert latency < 1.0, f"took {latency:.2f}s: the worker was not woken by NOTIFY"


async def test_a_claim_never_takes_a_units_second_job_past_its_first(queue_db: QueueDb) -> None:
    """The race behind a unit's jobs running out of order: one claim has locked the unit's
    first job (its UPDATE not yet done), a concurrent claim skips that locked row and must not
    take the unit's second job instead, which would then run first. It takes a free job."""
    from honcho_server.queue.repository import QueueRepository

    await _enqueue(queue_db, *(Probe(note=f"u{i}") for i in range(2)), lock_key="unit-r")
    await _enqueue(queue_db, Probe(note="free"))
    first = min(j.id for j in await queue_db.jobs() if j.note == "u0")
    async with queue_db.factory() as holder:  # the other claim, mid-statement
        await holder.execute(text("SELECT 1 FROM jobs WHERE id = :id FOR UPDATE"), {"id": first})
        async with unit_of_work(queue_db.factory) as db:
            claim = await QueueRepository(db).claim("w2")
        assert claim is not None
        notes = {j.id: j.note for j in await queue_db.jobs()}
        assert [notes[j.id] for j in claim.jobs] == ["free"]
        await holder.rollback()
