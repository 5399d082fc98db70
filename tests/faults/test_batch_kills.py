"""A ``worker`` SIGKILLed while a batch of embedding jobs is in its one model call: every job
of the batch stays ``doing`` (nothing is completed that was not embedded), each is recovered
on its own once its heartbeat is stale, a new worker embeds them, and every message sent is
embedded (once or more: a re-run replaces its chunks), with nothing lost and nothing failed."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from fakes.openai_server import EMBEDDINGS
from faults.harness import (
    Cluster,
    Db,
    age_heartbeats,
    create_database,
    drop_database,
    fake_llm,
    jobs_dump,
    orphan_limit_seconds,
    report,
    server_env,
    tail,
    wait_drained,
    worker_pid,
)
from faults.scenarios import wait_for


def test_worker_killed_mid_batch_loses_no_embedding(admin: Db, workdir: Path) -> None:
    url = create_database(admin)
    db = Db(url)
    embedder = fake_llm(latency=30.0)  # the batch's model call is in flight when we kill
    env = server_env(url, llm_url=None, embedder_url=embedder.base_url, DERIVER_ENABLED="false")
    cluster = Cluster(env, workdir, workers=1, serve_env={"EMBEDDED_WORKER": "false"})
    workspace = f"batch-{uuid.uuid4().hex[:8]}"
    sent: list[str] = []

    def post(n: int) -> None:
        with httpx.Client(timeout=30) as http:
            for _ in range(n):
                content = f"message {len(sent)} of {workspace}"
                r = http.post(
                    f"{cluster.base_url}/v3/workspaces/{workspace}/sessions/s{len(sent) % 3}"
                    "/messages",
                    json={"messages": [{"peer_id": f"p{len(sent) % 2}", "content": content}]},
                )
                assert r.status_code == 201, r.text
                sent.append(content)

    try:
        cluster.start_serve()
        post(40)  # 40 one-message embedding jobs wait: the worker starts on a backlog
        worker = cluster.start_worker(0)

        def all_in_flight() -> list[Any]:  # the lanes' batches, 40 messages in all
            calls = embedder.state.requests_to(EMBEDDINGS)
            return calls if sum(len(c.body["input"]) for c in calls) >= 40 else []

        calls = wait_for(all_in_flight, timeout=60, what="the worker's embedding calls")
        batch = db.fetch(
            "SELECT id, worker_id FROM jobs WHERE kind = 'embed_messages' AND status = 'doing'"
        )
        sizes = sorted(len(c.body["input"]) for c in calls)
        assert len(batch) == sum(sizes) == 40, (sizes, jobs_dump(db, "true"))
        # batches, not one call a job: lanes claim side by side, so a lane may get the one job
        # another lane's claim skipped over; on average a call still carries several jobs
        assert len(calls) <= 40 // 4 and max(sizes) > 1, sizes
        assert {worker_pid(r["worker_id"]) for r in batch} == {worker.pid}
        cluster.kill(worker)
        killed = time.monotonic()
        post(10)  # more work arrives while the batch is orphaned
        still = db.value(
            "SELECT count(*) FROM jobs WHERE id = ANY($1::bigint[]) AND status = 'doing'",
            [int(r["id"]) for r in batch],
        )
        assert still == len(batch), jobs_dump(db, "true")  # nothing completed unembedded
        assert db.value("SELECT count(*) FROM message_embeddings") == 0
        embedder.state.latency_seconds = 0.0
        age_heartbeats(db, [worker.pid])
        cluster.start_worker(0)
        drain_s = wait_drained(db, orphan_limit_seconds() + 60, started=killed)
        per_message = db.fetch(
            "SELECT m.content, count(e.message_id) AS chunks,"
            " count(DISTINCT e.chunk_index) AS distinct_chunks"
            " FROM messages m LEFT JOIN message_embeddings e ON e.message_id = m.id"
            " WHERE m.workspace_name = $1 GROUP BY m.content",
            workspace,
        )
        embedded = {r["content"] for r in per_message if r["chunks"] > 0}
        doubled = [r["content"] for r in per_message if r["chunks"] != r["distinct_chunks"]]
        jobs = db.fetch(
            "SELECT id, status, attempts, last_error FROM jobs WHERE kind = 'embed_messages'"
        )
        orphans = [r for r in jobs if int(r["id"]) in {int(b["id"]) for b in batch}]
        numbers = {
            "batches_in_flight": sizes,
            "messages": len(sent),
            "recovered_and_drained_after_kill_s": round(drain_s, 1),
            "embedding_calls": len(embedder.state.requests_to(EMBEDDINGS)),
        }
        problems = [
            f"{what}: {evidence}"
            for what, evidence in (
                ("messages not embedded", sorted(set(sent) - embedded)[:10]),
                ("chunks stored twice", doubled[:10]),
                ("jobs not succeeded", [dict(r) for r in jobs if r["status"] != "succeeded"]),
                (
                    "orphans not re-run on their own attempt",
                    [dict(r) for r in orphans if r["attempts"] != 2],
                ),
                ("processes that died on their own", cluster.unexpected_exits()),
            )
            if evidence
        ]
        assert not problems, (
            "\n".join(problems)
            + f"\nnumbers: {numbers}\n"
            + tail(cluster.logs / "worker-2.log", 2000)
        )
        report("kill_mid_batch", numbers)
    finally:
        cluster.stop()
        embedder.stop()
        db.close()
        drop_database(admin, url)
