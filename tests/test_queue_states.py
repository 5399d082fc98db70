"""The queue's state machine on real Postgres: every way a job goes back to ``todo`` while
its twin (same work unit) already waits there ends in ``superseded`` — never in a unique
violation that strands the job in ``doing`` (issue 10, item 1) — and a worker claims no job
whose dependency it lacks or believes down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from databases import fresh_database
from fakes.fixtures import fake_openai_server  # noqa: F401
from fakes.openai_server import FakeOpenAIServer
from honcho_server.db.engine import create_engine, create_session_factory
from honcho_server.db.repositories.workers import WorkerRepository
from honcho_server.db.session import unit_of_work
from honcho_server.queue import (
    DerivePayload,
    EmbedMessages,
    Probe,
    QueueRepository,
    enqueue,
    retry_jobs,
)
from honcho_server.queue.payloads import BULK_PRIORITY
from honcho_server.queue.states import TRANSITIONS
from honcho_server.settings import Settings
from honcho_server.worker.context import WorkerServices
from honcho_server.worker.gates import Gates, probe_endpoint
from honcho_server.worker.maintenance import maintain, requeue_stale_jobs
from honcho_server.worker.runner import run_once
from servers import free_port


@dataclass
class Db:
    factory: async_sessionmaker[AsyncSession]

    async def jobs(self) -> list[Any]:
        async with self.factory() as db:
            rows = await db.execute(
                text("SELECT id, kind, status, attempts, last_error FROM jobs ORDER BY id")
            )
            return list(rows.all())

    async def set(self, sql: str) -> None:
        async with unit_of_work(self.factory) as db:
            await db.execute(text(sql))


@pytest.fixture
async def qdb(database_url: str) -> AsyncIterator[Db]:
    async with fresh_database(database_url) as url:
        engine = create_engine(Settings(_env_file=None, database_url=url), url)
        try:
            yield Db(create_session_factory(engine))
        finally:
            await engine.dispose()


def derive(observed: str = "alice") -> DerivePayload:
    return DerivePayload(workspace="w", session="s", observed=observed, observers=[observed])


async def _enqueue(q: Db, *payloads: Any) -> None:
    async with unit_of_work(q.factory) as db:
        for payload in payloads:
            await enqueue(db, payload)


async def _claim_one(q: Db) -> int:
    async with unit_of_work(q.factory) as db:
        claim = await QueueRepository(db).claim("w1")
    assert claim is not None
    return claim.jobs[0].id


Transition = Callable[[QueueRepository, int], Awaitable[Any]]


async def _fail(repo: QueueRepository, job_id: int) -> Any:
    return await repo.fail(job_id, "bad answer", datetime.now(UTC))


async def _wait(repo: QueueRepository, job_id: int) -> Any:
    return await repo.wait(job_id, "waiting: LLM down")


async def _stale(repo: QueueRepository, job_id: int) -> Any:
    return await repo.requeue_stale(job_id, timedelta(0))


@pytest.mark.parametrize("transition", [_fail, _wait, _stale], ids=["fail", "wait", "stale"])
async def test_back_to_todo_beside_a_waiting_twin_is_superseded(
    qdb: Db, transition: Transition
) -> None:
    await _enqueue(qdb, derive())
    running = await _claim_one(qdb)
    await _enqueue(qdb, derive())  # a new message queued a twin while the job ran
    await asyncio.sleep(0.01)
    async with unit_of_work(qdb.factory) as db:
        assert await transition(QueueRepository(db), running) == "superseded"
    jobs = await qdb.jobs()
    assert [(j.id == running, j.status) for j in jobs] == [(True, "superseded"), (False, "todo")]
    assert jobs[0].last_error.startswith(f"superseded by job {jobs[1].id}")
    # the twin runs: nothing of this work unit is stuck
    assert await _claim_one(qdb) == jobs[1].id


async def test_without_a_twin_the_job_goes_back_and_attempts_follow_the_event(qdb: Db) -> None:
    await _enqueue(qdb, derive("a"), derive("b"), derive("c"))
    ids = [await _claim_one(qdb) for _ in range(3)]
    async with unit_of_work(qdb.factory) as db:
        repo = QueueRepository(db)
        assert await _fail(repo, ids[0]) == "todo"
        assert await _wait(repo, ids[1]) == "todo"
        assert await repo.fail(ids[2], "last attempt", None) == "failed"
    jobs = await qdb.jobs()
    # fail spends the attempt, wait gives it back, giving up keeps the job visible
    assert [(j.status, j.attempts) for j in jobs] == [("todo", 1), ("todo", 0), ("failed", 1)]


async def test_retry_of_a_failed_job_beside_a_twin_supersedes_it(qdb: Db) -> None:
    await _enqueue(qdb, derive())
    running = await _claim_one(qdb)
    async with unit_of_work(qdb.factory) as db:
        await QueueRepository(db).fail(running, "gave up", None)
    await _enqueue(qdb, derive())
    async with unit_of_work(qdb.factory) as db:
        assert await retry_jobs(db) == {"superseded": 1}
    assert [j.status for j in await qdb.jobs()] == ["superseded", "todo"]


async def test_stale_sweep_recovers_every_job_one_by_one(qdb: Db) -> None:
    """Many dead workers' jobs, some with twins waiting: one sweep recovers all of them
    (it used to fail as a whole on the first twin, every 15 s, forever)."""
    await _enqueue(qdb, *(derive(f"p{i}") for i in range(6)))
    running = [await _claim_one(qdb) for _ in range(6)]
    await _enqueue(qdb, derive("p1"), derive("p3"), derive("p5"))  # twins for half of them
    await qdb.set("UPDATE jobs SET heartbeat_at = now() - interval '5 minutes'")
    await qdb.set(f"UPDATE jobs SET attempts = max_attempts WHERE id = {running[4]}")
    assert await requeue_stale_jobs(qdb.factory, stale_after=timedelta(seconds=1)) == 6
    by_id = {j.id: j.status for j in await qdb.jobs()}
    assert [by_id[i] for i in running] == [
        "todo",
        "superseded",
        "todo",
        "superseded",
        "failed",  # its last attempt died with its worker
        "superseded",
    ]
    assert "doing" not in by_id.values()


async def test_a_twin_committed_at_the_same_instant_is_caught_and_superseded(qdb: Db) -> None:
    """The twin's insert is in flight (uncommitted) when the job goes back: the unique index
    makes the update wait, then fail; the statement re-runs in a savepoint and supersedes."""
    await _enqueue(qdb, derive())
    running = await _claim_one(qdb)
    async with qdb.factory() as writer:
        await enqueue(writer, derive())  # inserted, not committed yet

        async def back() -> Any:
            async with unit_of_work(qdb.factory) as db:
                return await QueueRepository(db).wait(running, "waiting: LLM down")

        going_back = asyncio.create_task(back())
        await asyncio.sleep(0.5)
        assert not going_back.done()  # blocked on the twin's index entry
        await writer.commit()
    assert await asyncio.wait_for(going_back, 10) == "superseded"
    assert [j.status for j in await qdb.jobs()] == ["superseded", "todo"]


async def test_a_worker_without_an_llm_leaves_llm_jobs_unclaimed(qdb: Db) -> None:
    await _enqueue(qdb, derive(), Probe(note="housekeeping"))
    services = WorkerServices(settings=Settings(_env_file=None))  # no LLM, no embedder
    assert await run_once(qdb.factory, "w1", services)
    assert not await run_once(qdb.factory, "w1", services)  # nothing it may run is left
    jobs = await qdb.jobs()
    assert [(j.kind, j.status, j.attempts, j.last_error) for j in jobs] == [
        ("derive", "todo", 0, None),  # never claimed: no churn, no log, no attempt spent
        ("probe", "succeeded", 1, None),
    ]
    report = services.gates.report()
    assert {m["need"] for m in report["missing"]} >= {"deriver", "summary", "dream"}


async def test_the_bulk_lane_takes_embedding_work_before_anything_else(qdb: Db) -> None:
    await _enqueue(qdb, Probe(note="first"), EmbedMessages(workspace="w", message_ids=[1]))
    async with unit_of_work(qdb.factory) as db:
        claim = await QueueRepository(db).claim("w1", min_priority=EmbedMessages.priority)
    assert claim is not None and claim.jobs[0].kind == "embed_messages"


async def test_a_preferring_claim_takes_bulk_work_first_and_then_the_rest(qdb: Db) -> None:
    """The bulk lane's one claim statement: embeddings before anything else, else the rest."""
    await _enqueue(qdb, Probe(note="first"), EmbedMessages(workspace="w", message_ids=[1]))
    kinds = []
    for _ in range(3):
        async with unit_of_work(qdb.factory) as db:
            claim = await QueueRepository(db).claim("w1", prefer=EmbedMessages.priority)
        kinds.append(claim.jobs[0].kind if claim is not None else None)
    assert kinds == ["embed_messages", "probe", None]


def test_circuit_breaker_blocks_then_probes_then_closes() -> None:
    now = [100.0]
    settings = Settings(_env_file=None, llm_model="m", llm_base_url="http://127.0.0.1:9/v1")
    gates = Gates(settings, has_llm=True, embedder_endpoint=None, clock=lambda: now[0])
    assert "derive" not in gates.blocked_kinds()
    gates.down("derive", "connection refused")
    blocked = gates.blocked_kinds()
    assert {"derive", "card", "summarize", "dream"} <= set(blocked)  # one endpoint for all
    [outage] = gates.report()["outages"]
    assert outage["endpoint"] == "LLM m at http://127.0.0.1:9/v1"
    assert outage["error"] == "connection refused"
    now[0] += 2.5  # past the first cool-down: one job may probe
    assert "derive" not in gates.blocked_kinds()
    gates.claimed("derive")
    assert "summarize" in gates.blocked_kinds()  # only one probe at a time
    gates.down("derive", "connection refused")  # still down: a longer cool-down
    now[0] += 2.5
    assert "derive" in gates.blocked_kinds()
    now[0] += 2.0
    gates.claimed("derive")
    gates.answered("derive")
    assert not {"derive", "card", "summarize", "dream"} & set(gates.blocked_kinds())
    assert gates.report()["outages"] == []


def test_a_long_outage_is_probed_every_10_seconds() -> None:
    """However long the LLM stays down, the backlog waits at most 10 s once it is back."""
    now = [100.0]
    settings = Settings(_env_file=None, llm_model="m", llm_base_url="http://127.0.0.1:9/v1")
    gates = Gates(settings, has_llm=True, embedder_endpoint=None, clock=lambda: now[0])
    waits = []
    for _ in range(8):
        gates.down("derive", "connection refused")
        started = now[0]
        while "derive" in gates.blocked_kinds():
            now[0] += 0.5
        waits.append(now[0] - started)
        gates.claimed("derive")
    assert waits == [2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0, 10.0]


def test_the_state_table_covers_every_event_that_moves_a_running_job() -> None:
    for event in ("succeed", "fail", "wait", "release", "stale"):
        assert ("doing", event) in TRANSITIONS
    for event in ("fail", "wait", "release", "stale"):  # every way back to todo
        assert {"todo", "superseded"} <= set(TRANSITIONS[("doing", event)])
    assert "failed" not in TRANSITIONS[("doing", "wait")]  # waiting never fails a job


async def test_maintenance_forgets_workers_dead_for_an_hour(qdb: Db) -> None:
    async with unit_of_work(qdb.factory) as db:
        for worker in ("dead", "alive"):
            await WorkerRepository(db).beat(worker, embedder=None, version="t")
    await qdb.set("UPDATE workers SET heartbeat_at = now() - interval '2 hours' WHERE id = 'dead'")
    await maintain(qdb.factory)
    async with unit_of_work(qdb.factory) as db:
        assert [w.id for w in await WorkerRepository(db).all()] == ["alive"]


async def test_a_breaker_with_no_job_left_probes_the_endpoint_itself(
    fake_openai_server: FakeOpenAIServer,  # noqa: F811
) -> None:
    """Another worker drained the backlog: this one has no job to probe with, so it checks
    the endpoint itself once the cool-down is over, and stops reporting it down."""
    now = [100.0]
    up = Settings(_env_file=None, llm_model="m", llm_base_url=fake_openai_server.base_url)
    gates = Gates(up, has_llm=True, embedder_endpoint=None, clock=lambda: now[0])
    gates.down("derive", "connection refused")
    assert gates.due_probes() == []  # still cooling down
    now[0] += 3
    [(endpoint, url, _key)] = gates.due_probes()
    assert gates.due_probes() == []  # one probe at a time
    gates.probed(endpoint, await probe_endpoint(url, None))
    assert gates.report()["outages"] == []
    closed = f"http://127.0.0.1:{free_port()}/v1"
    down = Settings(_env_file=None, llm_model="m", llm_base_url=closed)
    gates = Gates(down, has_llm=True, embedder_endpoint=None, clock=lambda: now[0])
    gates.down("derive", "connection refused")
    now[0] += 3
    [(endpoint, url, _key)] = gates.due_probes()
    error = await probe_endpoint(url, None)
    assert error is not None and "Connect" in error
    gates.probed(endpoint, error)
    assert [o["endpoint"] for o in gates.report()["outages"]] == [endpoint]


async def test_a_claim_below_bulk_priority_leaves_embeddings_waiting(qdb: Db) -> None:
    """What a paced worker claims (``worker.pacing``): every job but the bulk ones, and it
    reports nothing else ready while only bulk jobs wait."""
    await _enqueue(qdb, EmbedMessages(workspace="w", message_ids=[1]), derive())
    async with unit_of_work(qdb.factory) as db:
        claim = await QueueRepository(db).claim("w1", max_priority=BULK_PRIORITY - 1)
    assert claim is not None
    assert [j.kind for j in claim.jobs] == ["derive"]
    assert claim.ready is False  # the embedding job is there, but not for this claim
    async with unit_of_work(qdb.factory) as db:
        assert await QueueRepository(db).claim("w1", max_priority=BULK_PRIORITY - 1) is None
        again = await QueueRepository(db).claim("w1")  # unpaced: the embedding job
    assert again is not None and [j.kind for j in again.jobs] == ["embed_messages"]
