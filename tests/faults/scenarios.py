"""The fault scenarios, as plain functions: the tests in this package run them with small
numbers, ``bench/soak.py`` with large ones. Each starts real processes on a database of its
own, does harm with real signals (SIGKILL, a stopped Postgres, a closed port), asserts what an
operator would notice (``AssertionError`` with the evidence), and returns its numbers.

Sizes come from :class:`Sizes` (environment variables ``FAULT_*``; see its fields).
"""

from __future__ import annotations

import json
import math
import random
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from fakes.openai_server import CHAT
from faults.harness import (
    Cluster,
    Db,
    Ingest,
    OrphanWatch,
    age_heartbeats,
    check_messages,
    closed_port,
    count_lines,
    create_database,
    doing,
    drop_database,
    env_float,
    env_int,
    fake_llm,
    get_status,
    job_counts,
    jobs_dump,
    orphan_limit_seconds,
    problem_naming,
    real_clock,
    said_lines,
    server_env,
    setup_sessions,
    tail,
    totals,
    underived,
    wait_drained,
    wait_for_problem,
    worker_pid,
)


@dataclass
class Sizes:
    seed: int = 20240611  # FAULT_SEED: kill times and targets, client choices
    messages: int = 240  # FAULT_MESSAGES: scenario 1's messages in all
    kills: int = 4  # FAULT_KILLS: SIGKILLs in scenario 1 (serve and worker, alternating)
    clients: int = 4  # FAULT_CLIENTS: client threads of scenarios 1, 3 and 4
    sessions: int = 4  # FAULT_SESSIONS: sessions of 3 peers each
    ingest_seconds: float = 16.0  # FAULT_INGEST_SECONDS: how long scenario 1 ingests
    llm_latency: float = 0.3  # FAULT_LLM_LATENCY: seconds per fake LLM answer (kills land mid-job)
    twin_wait_seconds: float = 20.0  # FAULT_TWIN_WAIT_SECONDS: scenario 2a's LLM-down wait
    writers: int = 32  # FAULT_WRITERS: scenario 2b's concurrent writers
    write_seconds: float = 15.0  # FAULT_WRITE_SECONDS: how long they write
    outage_seconds: float = 30.0  # FAULT_OUTAGE_SECONDS: scenario 3's LLM outage
    pg_outage_seconds: float = 8.0  # FAULT_PG_OUTAGE_SECONDS: scenario 4's Postgres stop

    @classmethod
    def from_env(cls, **defaults: Any) -> Sizes:
        base = cls(**defaults)
        values: dict[str, Any] = {}
        for name, value in asdict(base).items():
            key = f"FAULT_{name.upper()}"
            values[name] = env_int(key, value) if isinstance(value, int) else env_float(key, value)
        return cls(**values)


def _workspace(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _problems(*groups: tuple[str, Any]) -> list[str]:
    return [f"{what}: {evidence}" for what, evidence in groups if evidence]


def _fail_if(problems: list[str], context: str = "") -> None:
    if problems:
        raise AssertionError("\n".join(problems) + (f"\n{context}" if context else ""))


def abandoned(watch: OrphanWatch) -> list[str]:
    return list(watch.abandoned.values())[:10]


def _server_errors(ingest: Ingest) -> dict[str, int]:
    return {k: v for k, v in ingest.statuses().items() if k.startswith("5")}


# ---- 1. SIGKILL of serve and worker during ingest, derivation on ----------------------------


def kill_during_ingest(admin: Db, workdir: Path, sizes: Sizes) -> dict[str, Any]:
    """``serve`` (API + embedded worker) and one ``worker`` on one database, a fake LLM
    answering everything; clients ingest into several sessions while ``sizes.kills`` SIGKILLs
    hit the two processes at seeded random moments (each restarted). Afterwards: every
    acknowledged message exactly once (duplicates of resent requests counted), seq gap-free,
    no job ``doing`` without a live worker for longer than the stale timeout plus a sweep, the
    queue drained with nothing failed, every (session, sender) derived."""
    rng = random.Random(sizes.seed)
    url = create_database(admin)
    db = Db(url)
    llm = fake_llm(latency=sizes.llm_latency)
    cluster = Cluster(
        server_env(url, llm_url=llm.base_url, embedder_url=llm.base_url), workdir / "logs"
    )
    watch = OrphanWatch(db, cluster)
    ingest: Ingest | None = None
    try:
        cluster.start()
        workspace = _workspace("kill")
        layout = setup_sessions(cluster.base_url, workspace, sizes.sessions, 3)
        per_client = math.ceil(sizes.messages / sizes.clients)
        requests_per_client = max(per_client / 2.5, 1)  # batches of 1-4
        ingest = Ingest(
            cluster.base_url,
            workspace,
            layout,
            clients=sizes.clients,
            messages_per_client=per_client,
            seed=sizes.seed,
            pause=sizes.ingest_seconds / requests_per_client,
        )
        watch.start()
        started = time.monotonic()
        ingest.start()
        roles = (["serve", "worker"] * sizes.kills)[: sizes.kills]
        rng.shuffle(roles)
        moments = sorted(rng.uniform(1.0, sizes.ingest_seconds) for _ in roles)
        kills: list[dict[str, Any]] = []
        for at, role in zip(moments, roles, strict=True):
            time.sleep(max(0.0, started + at - time.monotonic()))
            victim = cluster.serve if role == "serve" else cluster.workers[0]
            assert victim is not None and victim.alive(), f"{role} died on its own"
            cluster.kill(victim)
            held = [int(j["id"]) for j in doing(db) if worker_pid(j["worker_id"]) == victim.pid]
            age_heartbeats(db, [victim.pid])
            time.sleep(rng.uniform(0.2, 1.0))
            restart = time.monotonic()
            cluster.restart(role)
            kills.append(
                {
                    "at": round(at, 1),
                    "role": role,
                    "pid": victim.pid,
                    "jobs_held": held,
                    "restart_s": round(time.monotonic() - restart, 1),
                }
            )
        assert ingest.join(timeout=300), "the clients did not finish"
        ingest_s = time.monotonic() - started
        drain_from = time.monotonic()
        drain_s = wait_drained(db, orphan_limit_seconds() + 120, started=drain_from)
        watch.stop()
        watch.poll()
        messages = check_messages(db, workspace, ingest.sent)
        counts = job_counts(db)
        total = totals(counts)
        not_derived = underived(db, workspace)
        numbers = {
            "seed": sizes.seed,
            "kills_survived": len(kills),
            "kills_mid_job": sum(1 for k in kills if k["jobs_held"]),
            "jobs_orphaned_by_kills": sum(len(k["jobs_held"]) for k in kills),
            "kills": kills,
            **messages.numbers(),
            "requests": sum(ingest.statuses().values()),
            "no_response_retries": ingest.statuses().get("no response", 0),
            "ingest_s": round(ingest_s, 1),
            "drain_after_ingest_s": round(drain_s, 1),
            "longest_orphan_s": round(watch.longest_orphan, 1),
            "orphan_limit_s": orphan_limit_seconds(),
            "real_clock": real_clock(),
            "jobs": dict(total),
            "jobs_by_kind": counts,
            "pairs_derived": f"{len(layout) * 3 - len(not_derived)}",
            "llm_requests": len(llm.state.requests_to(CHAT)),
        }
        _fail_if(
            messages.problems()
            + _problems(
                ("requests answered with an error", ingest.errors[:5]),
                ("5xx answers", _server_errors(ingest)),
                ("failed jobs", watch.failed_seen or (total["failed"] and jobs_dump(db))),
                (
                    f"a dead worker's job stayed doing longer than {orphan_limit_seconds():.0f} s",
                    watch.longest_orphan > orphan_limit_seconds() and watch.longest_orphan,
                ),
                ("(session, sender) not derived", not_derived),
                ("jobs left doing by a live process that no longer runs them", abandoned(watch)),
                ("processes that died on their own", cluster.unexpected_exits()),
            ),
            f"numbers: {numbers}",
        )
        return numbers
    finally:
        watch.stop()
        if ingest is not None:
            ingest.stop()
        cluster.stop()
        llm.stop()
        db.close()
        drop_database(admin, url)


# ---- 2a. LLM down (a closed port), two messages 1 s apart, then the LLM comes up -------------


def llm_down_then_up(admin: Db, workdir: Path, sizes: Sizes) -> dict[str, Any]:
    """The deterministic twin regression of an LLM outage: the LLM URL points at a closed
    port, two messages 1 s apart go to one (session, peer), and ``sizes.twin_wait_seconds``
    pass. No job stays ``doing``, none fails, ``/status`` names the endpoint within seconds.
    Then a fake LLM starts on that very port: the backlog drains with no command, every
    sender is derived, and ``/status`` stops saying the LLM is unreachable.

    ``serve`` and one ``worker``, both of which find the LLM down; peer cards off, so the one
    waiting derive job is all there is to run once the LLM is back (one of the two workers
    runs it: the other must not go on reporting the LLM down)."""
    url = create_database(admin)
    db = Db(url)
    port = closed_port()
    embedder = fake_llm()
    llm = None
    llm_url = f"http://127.0.0.1:{port}/v1"
    env = server_env(
        url, llm_url=llm_url, embedder_url=embedder.base_url, PEER_CARD_ENABLED="false"
    )
    cluster = Cluster(env, workdir)
    try:
        cluster.start()
        workspace = _workspace("down")
        base = f"{cluster.base_url}/v3/workspaces/{workspace}/sessions/s/messages"
        first = time.monotonic()
        for text in ("I adopted a dog named Rex", "Rex is a beagle"):
            r = httpx.post(base, json={"messages": [{"peer_id": "alice", "content": text}]})
            assert r.status_code == 201, r.text
            time.sleep(1.0)
        named_after, line = wait_for_problem(
            cluster.base_url, f"127.0.0.1:{port}", "unreachable", timeout=20
        )
        named_after += 1.0  # from the first message
        longest_doing, failed = _watch_doing(db, first + sizes.twin_wait_seconds)
        waiting = job_counts(db)
        assert not failed, f"jobs failed while the LLM was down:\n{jobs_dump(db)}"
        assert longest_doing < 15, (
            f"a job stayed doing {longest_doing:.1f} s while the LLM was down:\n{jobs_dump(db)}"
        )
        derive_open = {k: v for k, v in waiting.get("derive", {}).items() if k in ("todo", "doing")}
        assert derive_open, f"no derive job waits (todo, or doing as the probe): {waiting}"
        reporting_down = outage_reports(db)

        llm = fake_llm(port=port)
        back = time.monotonic()
        drain_s = wait_drained(db, 90, started=back)
        not_derived = underived(db, workspace)
        counts = job_counts(db)
        cleared = _wait_problem_gone(cluster.base_url, f"127.0.0.1:{port}", timeout=40)
        numbers = {
            "status_named_endpoint_after_s": round(named_after, 1),
            "status_line": line,
            "longest_doing_while_down_s": round(longest_doing, 1),
            "jobs_while_down": waiting,
            "workers_reporting_the_outage": len(reporting_down),
            "drain_after_llm_back_s": round(drain_s, 1),
            "jobs": counts,
            "llm_requests_after_back": len(llm.state.requests_to(CHAT)),
        }
        _fail_if(
            _problems(
                ("failed jobs", totals(counts)["failed"] and jobs_dump(db)),
                ("(session, sender) not derived", not_derived),
                ("processes that died on their own", cluster.unexpected_exits()),
            ),
            f"numbers: {numbers}",
        )
        assert named_after <= 10, f"/status named the endpoint only after {named_after:.1f} s"
        assert not cleared, (
            f"the backlog drained {drain_s:.0f} s after the LLM came back, yet 40 s later "
            f"/status still says: {cleared!r}; workers still reporting it down: "
            f"{outage_reports(db)} (while it was down: {reporting_down})"
        )
        return numbers
    finally:
        cluster.stop()
        embedder.stop()
        if llm is not None:
            llm.stop()
        db.close()
        drop_database(admin, url)


def _watch_doing(db: Db, until: float, kinds: list[str] | None = None) -> tuple[float, list[str]]:
    """Until ``until``: the longest any one job stayed ``doing`` without a break, and the
    failed jobs seen."""
    since: dict[int, float] = {}
    longest = 0.0
    failed: list[str] = []
    while time.monotonic() < until:
        now = time.monotonic()
        current = {int(j["id"]) for j in doing(db, kinds)}
        since = {i: since.get(i, now) for i in current}
        longest = max([longest, *(now - t for t in since.values())])
        failed = [
            f"job {r['id']} {r['kind']}: {r['last_error']}"
            for r in db.fetch("SELECT id, kind, last_error FROM jobs WHERE status = 'failed'")
        ]
        if failed:
            break
        time.sleep(0.25)
    return longest, failed


def outage_reports(db: Db) -> dict[str, list[str]]:
    """Live workers (heartbeat in the last 30 s) → the endpoints they report down."""
    rows = db.fetch(
        "SELECT id, report FROM workers WHERE heartbeat_at > now() - interval '30 seconds'"
    )
    out: dict[str, list[str]] = {}
    for r in rows:
        report = json.loads(r["report"]) if isinstance(r["report"], str) else r["report"] or {}
        down = [str(o.get("endpoint")) for o in report.get("outages", [])]
        if down:
            out[str(r["id"])] = down
    return out


def _wait_problem_gone(base_url: str, needle: str, timeout: float) -> str | None:
    """None once no problem of ``/status`` names ``needle``; else the last such line."""
    deadline = time.monotonic() + timeout
    line = None
    while time.monotonic() < deadline:
        line = problem_naming(get_status(base_url), needle)
        if line is None:
            return None
        time.sleep(0.5)
    return line


# ---- 2b. no LLM at all, 32 concurrent writers ----------------------------------------------


def no_llm_writers(admin: Db, workdir: Path, sizes: Sizes) -> dict[str, Any]:
    """The default install with no LLM: ``sizes.writers`` concurrent writers for
    ``sizes.write_seconds``. No derive/summarize/card job is ever ``doing`` (nobody can run
    them: they are not claimed at all), embedding keeps up (every message embedded), and
    ``/status`` says derivation waits for an LLM."""
    url = create_database(admin)
    db = Db(url)
    embedder = fake_llm()
    cluster = Cluster(server_env(url, llm_url=None, embedder_url=embedder.base_url), workdir)
    ingest: Ingest | None = None
    try:
        cluster.start()
        workspace = _workspace("nollm")
        layout = setup_sessions(cluster.base_url, workspace, 8, 2)
        ingest = Ingest(
            cluster.base_url,
            workspace,
            layout,
            clients=sizes.writers,
            messages_per_client=None,
            seed=sizes.seed,
            batch=(1, 3),
            pause=0.05,
        )
        log = cluster.serve.log if cluster.serve is not None else workdir / "serve-1.log"
        log_start = log.stat().st_size
        started = time.monotonic()
        ingest.start()
        llm_kinds = ["derive", "summarize", "card", "dream"]
        seen_doing: set[str] = set()
        polls = 0
        while time.monotonic() - started < sizes.write_seconds:
            polls += 1
            seen_doing |= {f"job {j['id']} {j['kind']}" for j in doing(db, llm_kinds)}
            time.sleep(0.2)
        ingest.stop()
        assert ingest.join(timeout=60), "the writers did not stop"
        write_s = time.monotonic() - started
        all_lines = count_lines(log, log_start)
        log_lines = said_lines(all_lines)  # not the access log or the embedder client's lines
        embedded_s = _wait_no_open(db, ["embed_messages", "embed_conclusions"], timeout=120)
        seen_doing |= {f"job {j['id']} {j['kind']}" for j in doing(db, llm_kinds)}
        stored = int(db.value("SELECT count(*) FROM messages WHERE workspace_name = $1", workspace))
        embedded = int(
            db.value(
                "SELECT count(DISTINCT e.message_id) FROM message_embeddings e"
                " JOIN messages m ON m.id = e.message_id WHERE m.workspace_name = $1",
                workspace,
            )
        )
        counts = job_counts(db)
        claimed = db.fetch(
            "SELECT id, kind, status, attempts FROM jobs WHERE kind = ANY($1::text[])"
            " AND (attempts > 0 OR status <> 'todo')",
            llm_kinds,
        )
        status = get_status(cluster.base_url)
        waits = problem_naming(status, "derive", "LLM")
        messages = check_messages(db, workspace, ingest.sent)
        numbers = {
            "writers": sizes.writers,
            "write_s": round(write_s, 1),
            **messages.numbers(),
            "messages_stored": stored,
            "messages_embedded": embedded,
            "embedding_done_after_writes_s": round(embedded_s, 1),
            "llm_jobs_ever_doing": len(seen_doing),
            "polls": polls,
            "jobs": counts,
            "server_log_lines_while_writing": len(log_lines),
            "server_log_lines_while_writing_with_access_log": len(all_lines),
            "status_line": waits,
        }
        _fail_if(
            messages.problems()
            + _problems(
                ("LLM jobs claimed with no LLM", sorted(seen_doing)[:10]),
                ("LLM jobs that left todo or spent an attempt", [dict(r) for r in claimed][:10]),
                ("messages not embedded", stored != embedded and f"{embedded} of {stored}"),
                ("failed jobs", totals(counts)["failed"] and jobs_dump(db)),
                ("requests answered with an error", ingest.errors[:5]),
                ("5xx answers", _server_errors(ingest)),
                (
                    "/status does not say derivation waits for an LLM",
                    not waits and status["problems"],
                ),
                (
                    f"{len(log_lines)} log lines while writing (a line per waiting job?)",
                    len(log_lines) > 20 and log_lines[:20],
                ),
                ("processes that died on their own", cluster.unexpected_exits()),
            ),
            f"numbers: {numbers}",
        )
        return numbers
    finally:
        if ingest is not None:
            ingest.stop()
        cluster.stop()
        embedder.stop()
        db.close()
        drop_database(admin, url)


def _wait_no_open(db: Db, kinds: list[str], timeout: float) -> float:
    started = time.monotonic()
    while True:
        left = db.value(
            "SELECT count(*) FROM jobs WHERE kind = ANY($1::text[])"
            " AND status IN ('todo', 'doing')",
            kinds,
        )
        if left == 0:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(
                f"{left} {kinds} job(s) still open after {timeout:.0f} s:\n"
                + jobs_dump(db, "status IN ('todo', 'doing')")
            )
        time.sleep(0.25)


# ---- 2c. a worker killed mid-derive while a twin waits ---------------------------------------


def kill_mid_derive(admin: Db, workdir: Path, sizes: Sizes) -> dict[str, Any]:
    """The API (no embedded worker) and one ``worker``; the fake LLM is slow, so the
    worker is SIGKILLed while its derive job is ``doing``; a new message of the same sender
    has queued a twin meanwhile. A new worker recovers: the orphan is superseded by the twin
    (or re-runs), the twin runs, the sender is derived up to its last message, nothing stuck."""
    url = create_database(admin)
    db = Db(url)
    llm = fake_llm(latency=30.0)
    embedder = fake_llm()
    env = server_env(url, llm_url=llm.base_url, embedder_url=embedder.base_url)
    cluster = Cluster(env, workdir, workers=1, serve_env={"EMBEDDED_WORKER": "false"})
    try:
        cluster.start()
        workspace = _workspace("twin")
        base = f"{cluster.base_url}/v3/workspaces/{workspace}/sessions/s/messages"

        def post(text: str) -> None:
            r = httpx.post(base, json={"messages": [{"peer_id": "alice", "content": text}]})
            assert r.status_code == 201, r.text

        post("I adopted a dog named Rex")
        orphan = _wait_job(db, "derive", "doing", timeout=60)
        wait_for(lambda: llm.state.requests_to(CHAT), timeout=30, what="the derive LLM call")
        post("Rex is a beagle")
        twin = _wait_job(db, "derive", "todo", timeout=10)
        worker = cluster.workers[0]
        assert worker is not None
        assert worker_pid(orphan["worker_id"]) == worker.pid
        cluster.kill(worker)
        killed = time.monotonic()
        after_kill = {int(r["id"]): r["status"] for r in db.fetch("SELECT id, status FROM jobs")}
        assert after_kill[int(orphan["id"])] == "doing", after_kill  # the dead worker's claim
        llm.state.latency_seconds = 0.0
        age_heartbeats(db, [worker.pid])
        cluster.start_worker(0)
        drain_s = wait_drained(db, orphan_limit_seconds() + 60, started=killed)
        rows = {
            int(r["id"]): r
            for r in db.fetch(
                "SELECT id, status, attempts, last_error FROM jobs WHERE kind = 'derive'"
            )
        }
        orphan_row, twin_row = rows[int(orphan["id"])], rows[int(twin["id"])]
        not_derived = underived(db, workspace)
        counts = job_counts(db)
        prompts = [b["messages"][-1]["content"] for b in llm.state.chat_bodies()]
        numbers = {
            "recovered_and_drained_after_kill_s": round(drain_s, 1),
            "orphan": {k: orphan_row[k] for k in ("status", "attempts", "last_error")},
            "twin": {k: twin_row[k] for k in ("status", "attempts")},
            "jobs": counts,
        }
        _fail_if(
            _problems(
                (
                    "the orphan neither superseded nor re-ran",
                    orphan_row["status"] not in ("superseded", "succeeded") and dict(orphan_row),
                ),
                ("the twin did not run", twin_row["status"] != "succeeded" and dict(twin_row)),
                ("(session, sender) not derived", not_derived),
                ("failed jobs", totals(counts)["failed"] and jobs_dump(db)),
                (
                    "the last extraction did not read the new message",
                    not any("Rex is a beagle" in p for p in prompts),
                ),
                ("processes that died on their own", cluster.unexpected_exits()),
            ),
            f"numbers: {numbers}\nworker log: {tail(cluster.logs / 'worker-2.log', 2000)}",
        )
        return numbers
    finally:
        cluster.stop()
        llm.stop()
        embedder.stop()
        db.close()
        drop_database(admin, url)


def _wait_job(db: Db, kind: str, status: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = db.fetch(
            "SELECT id, worker_id FROM jobs WHERE kind = $1 AND status = $2 ORDER BY id",
            kind,
            status,
        )
        if rows:
            return rows[0]
        time.sleep(0.1)
    raise AssertionError(
        f"no {kind} job became {status} in {timeout:.0f} s:\n{jobs_dump(db, 'true')}"
    )


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen in {timeout:.0f} s")


# ---- 3. the LLM down for a while during ingest, then back ---------------------------------


def llm_outage(admin: Db, workdir: Path, sizes: Sizes) -> dict[str, Any]:
    """``serve`` and one ``worker``; clients ingest; the LLM goes away (its port closed) for
    ``sizes.outage_seconds`` and comes back on the same port. During the outage no job
    fails and ``/status`` is degraded naming the endpoint; after it, the backlog drains by
    itself and every sender is derived. Reports the drain time."""
    url = create_database(admin)
    db = Db(url)
    llm = fake_llm(latency=0.05)
    port = llm.port
    embedder = fake_llm()
    env = server_env(url, llm_url=llm.base_url, embedder_url=embedder.base_url)
    cluster = Cluster(env, workdir)
    watch = OrphanWatch(db, cluster)
    ingest: Ingest | None = None
    try:
        cluster.start()
        workspace = _workspace("outage")
        layout = setup_sessions(cluster.base_url, workspace, sizes.sessions, 3)
        ingest = Ingest(
            cluster.base_url,
            workspace,
            layout,
            clients=sizes.clients,
            messages_per_client=None,
            seed=sizes.seed,
            pause=0.5,
        )
        watch.start()
        ingest.start()
        time.sleep(3.0)  # the LLM works: derivation runs
        llm.stop()
        down = time.monotonic()
        named_after, line = wait_for_problem(
            cluster.base_url,
            f"127.0.0.1:{port}",
            "unreachable",
            timeout=max(sizes.outage_seconds, 15),
        )
        degraded: list[str] = []
        while time.monotonic() - down < sizes.outage_seconds:
            status = get_status(cluster.base_url)
            if status["status"] != "degraded" or not problem_naming(status, f"127.0.0.1:{port}"):
                degraded.append(
                    f"{time.monotonic() - down:.0f} s: {status['status']} {status['problems']}"
                )
            time.sleep(1.0)
        ingest.stop()
        assert ingest.join(timeout=60), "the clients did not stop"
        backlog = job_counts(db)
        llm = fake_llm(port=port, latency=0.05)
        back = time.monotonic()
        drain_s = wait_drained(db, 120, started=back)
        watch.stop()
        watch.poll()
        messages = check_messages(db, workspace, ingest.sent)
        not_derived = underived(db, workspace)
        counts = job_counts(db)
        cleared = _wait_problem_gone(cluster.base_url, f"127.0.0.1:{port}", timeout=40)
        numbers = {
            "outage_s": round(back - down, 1),
            "status_named_endpoint_after_s": round(named_after, 1),
            "status_line": line,
            "backlog_at_return": {k: v.get("todo", 0) for k, v in backlog.items()},
            "drain_after_llm_back_s": round(drain_s, 1),
            **messages.numbers(),
            "jobs": counts,
        }
        _fail_if(
            messages.problems()
            + _problems(
                ("failed jobs", watch.failed_seen or (totals(counts)["failed"] and jobs_dump(db))),
                ("/status not degraded naming the endpoint during the outage", degraded[:5]),
                ("/status still names the endpoint after it came back", cleared),
                ("(session, sender) not derived", not_derived),
                ("jobs left doing by a live process that no longer runs them", abandoned(watch)),
                ("requests answered with an error", ingest.errors[:5]),
                ("5xx answers", _server_errors(ingest)),
                ("processes that died on their own", cluster.unexpected_exits()),
            ),
            f"numbers: {numbers}",
        )
        assert named_after <= 15, f"/status named the endpoint only after {named_after:.1f} s"
        return numbers
    finally:
        watch.stop()
        if ingest is not None:
            ingest.stop()
        cluster.stop()
        llm.stop()
        embedder.stop()
        db.close()
        drop_database(admin, url)


# ---- 4. Postgres stopped and started under load ---------------------------------------------


#: The backlog of a few seconds of load drains in a few seconds once the database is back; a
#: job waiting for the stale-job sweep (60-75 s) would take longer than this.
DB_DRAIN_LIMIT_SECONDS = 30.0


@dataclass
class Probe:
    at: float
    health: int | None
    ready: int | None


def postgres_outage(workdir: Path, sizes: Sizes) -> dict[str, Any]:
    """``serve`` with ``DATABASE_URL`` at an embedded PostgreSQL this scenario owns, under
    load (clients, derivation on); Postgres is stopped for ``sizes.pg_outage_seconds`` and
    started again. During the outage requests get 503 (never 500), ``/health`` stays 200
    while ``/ready`` answers 503; no acknowledged write is lost; the server writes a few log
    lines about it (counted) and no traceback."""
    from honcho_server.db.embedded import EmbeddedPostgres
    from honcho_server.db.migrate import upgrade

    data_dir = Path(tempfile.mkdtemp(prefix="honcho-fault-pg-"))
    pg = EmbeddedPostgres(data_dir)
    url = pg.start()
    thread = threading.Thread(target=upgrade, args=(url,))
    thread.start()
    thread.join()
    db = Db(url)
    llm = fake_llm(latency=0.05)
    cluster = Cluster(
        server_env(url, llm_url=llm.base_url, embedder_url=llm.base_url), workdir, workers=0
    )
    ingest: Ingest | None = None
    probes: list[Probe] = []
    stop_probing = threading.Event()

    def probe() -> None:
        with httpx.Client(base_url=cluster.base_url, timeout=10) as http:
            while not stop_probing.wait(0.25):
                answers: list[int | None] = []
                for path in ("/health", "/ready"):
                    try:
                        answers.append(http.get(path).status_code)
                    except httpx.HTTPError:
                        answers.append(None)
                probes.append(Probe(time.monotonic(), answers[0], answers[1]))

    prober = threading.Thread(target=probe, daemon=True)
    watch = OrphanWatch(db, cluster)
    try:
        cluster.start()
        watch.start()
        assert cluster.serve is not None
        log = cluster.serve.log
        workspace = _workspace("pg")
        layout = setup_sessions(cluster.base_url, workspace, sizes.sessions, 3)
        ingest = Ingest(
            cluster.base_url,
            workspace,
            layout,
            clients=sizes.clients,
            messages_per_client=None,
            seed=sizes.seed,
            pause=0.1,
            retry_statuses=(503,),
            timeout=30,
        )
        ingest.start()
        prober.start()
        time.sleep(3.0)
        log_start = log.stat().st_size
        stopped = time.monotonic()
        pg.stop()
        down = time.monotonic()  # Postgres is certainly gone from here...
        time.sleep(sizes.pg_outage_seconds)
        restarting = time.monotonic()  # ... to here
        restarted_url = pg.start()
        assert restarted_url == url, f"Postgres came back elsewhere: {restarted_url} != {url}"
        started = time.monotonic()
        ready_again = wait_for(
            lambda: next((p.at for p in probes if p.at > started and p.ready == 200), None),
            timeout=60,
            what="/ready answering 200 again",
        )
        time.sleep(2.0)
        all_lines = count_lines(log, log_start)
        log_lines = said_lines(all_lines)  # not the access log or the LLM client's lines
        time.sleep(2.0)
        ingest.stop()
        assert ingest.join(timeout=90), "the clients did not stop"
        stop_probing.set()
        prober.join(timeout=15)
        drain_s = wait_drained(db, 120, started=started)
        watch.stop()
        during = [a for a in ingest.answers if down <= a.at <= restarting]
        outage_probes = [p for p in probes if down <= p.at <= restarting]
        by_status = {"no response" if a.status is None else str(a.status): 0 for a in during}
        for a in during:
            key = "no response" if a.status is None else str(a.status)
            by_status[key] += 1
        messages = check_messages(db, workspace, ingest.sent)
        counts = job_counts(db)
        tracebacks = [line for line in all_lines if "Traceback" in line]
        spent = [line for line in log_lines if "failed: " in line and " attempt " in line]
        numbers = {
            "pg_outage_s": round(started - stopped, 1),
            "answers_during_outage": by_status,
            "answers_overall": dict(ingest.statuses()),
            "health_during_outage": sorted({str(p.health) for p in outage_probes}),
            "ready_during_outage": sorted({str(p.ready) for p in outage_probes}),
            "ready_again_after_start_s": round(ready_again - started, 1),
            "server_log_lines_during_outage": len(log_lines),
            "server_log_lines_during_outage_with_access_log": len(all_lines),
            **messages.numbers(),
            "job_attempts_failed_by_the_outage": len(spent),
            "drain_after_db_back_s": round(drain_s, 1),
            "jobs": counts,
        }
        bad = {k: v for k, v in by_status.items() if k not in ("201", "503")}
        _fail_if(
            messages.problems()
            + _problems(
                ("answers other than 201/503 during the outage", bad),
                ("no 503 during the outage (was it one?)", "503" not in by_status and by_status),
                ("500 answers at any time", ingest.statuses().get("500")),
                ("/health not 200 during the outage", {p.health for p in outage_probes} - {200}),
                ("/ready not 503 during the outage", {p.ready for p in outage_probes} - {503}),
                (
                    f"{len(log_lines)} log lines during the outage (> 50)",
                    len(log_lines) > 50 and log_lines[:20],
                ),
                ("tracebacks in the log", tracebacks[:3] and tail(log, 4000)),
                ("requests answered with an error", ingest.errors[:5]),
                ("failed jobs", totals(counts)["failed"] and jobs_dump(db)),
                ("jobs left doing by a live process that no longer runs them", abandoned(watch)),
                (
                    f"the queue took {drain_s:.0f} s to drain after the database came back "
                    f"(> {DB_DRAIN_LIMIT_SECONDS:.0f} s)",
                    drain_s > DB_DRAIN_LIMIT_SECONDS and drain_s,
                ),
                ("processes that died on their own", cluster.unexpected_exits()),
            ),
            f"numbers: {numbers}\njob failures logged during the outage: {spent[:10]}",
        )
        return numbers
    finally:
        watch.stop()
        stop_probing.set()
        if ingest is not None:
            ingest.stop()
        cluster.stop()
        llm.stop()
        db.close()
        pg.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
