"""The machinery of the fault suite (shared with ``bench/soak.py``): real processes on a real
database, real signals, clients that behave like careful HTTP clients, and the checks an
operator would make afterwards.

- :class:`Db`: reads (and, for the clock, writes) the database from outside the server.
- :class:`Cluster`: one ``honcho-server serve`` (API + embedded worker) on a fixed port plus
  extra ``honcho-server worker`` processes; SIGKILL and restart any of them.
- :class:`Ingest`: client threads POSTing messages; a request that got no response at all
  (connection refused or reset, timeout) is sent again *without* an idempotency key, and its
  messages are marked ``resent`` so a duplicate row of them is counted, not called lost.
- checks: every acknowledged message stored exactly once, ``seq_in_session`` gap-free, no job
  ``doing`` without a live worker, the queue drained with nothing failed, every (session,
  sender) derived up to its last message.

Two of the server's clocks are minutes long and not settings, so by default the suite moves
them forward in the database (``FAULT_REAL_CLOCK=1`` waits for real instead, as ``bench/soak.py``
does by default):

- Dead workers' jobs are recovered by the stale-job sweep once their heartbeat is older than
  ``queue.STALE_AFTER`` (60 s; the sweep runs every ``worker.runner.STALE_SWEEP_SECONDS``,
  15 s, and when a worker starts). The suite *ages* the heartbeats of the jobs a killed
  process held (that pid only, once it is dead and reaped: nothing can heartbeat them again,
  so this is what waiting 60 s would do) and then relies on the real sweep.
- A peer-card job is due ``deriver.pipeline.CARD_DELAY_SECONDS`` (60 s) after it is queued
  (a debounce). While waiting for the queue to drain, the suite makes waiting card jobs due
  now; a worker still has to claim and run them.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from fakes.openai_server import FakeOpenAI, FakeOpenAIServer, answer_anything
from servers import free_port, start_server_on, start_worker

#: the server's own numbers (``queue.STALE_AFTER``, ``worker.runner.STALE_SWEEP_SECONDS``)
STALE_AFTER_SECONDS = 60.0
STALE_SWEEP_SECONDS = 15.0
#: a job's heartbeat is written every 10 s, so a dead worker's job may look fresh for that long
HEARTBEAT_SECONDS = 10.0
#: a ``doing`` job whose heartbeat is older than this is not being run by anyone, even if
#: the process named in its ``worker_id`` is alive (two missed beats and a margin)
ABANDONED_AFTER_SECONDS = 2 * HEARTBEAT_SECONDS + 5.0
#: ``deriver.pipeline.CARD_DELAY_SECONDS``: a card job is due this long after it is queued
CARD_DELAY_SECONDS = 60.0


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name, "").strip().lower()
    return default if not value else value in {"1", "true", "yes", "on"}


def real_clock() -> bool:
    """Wait the server's real clocks (stale timeout, card debounce) instead of moving them."""
    return env_flag("FAULT_REAL_CLOCK") or env_flag("FAULT_REAL_STALE")


def orphan_limit_seconds() -> float:
    """How long a job may stay ``doing`` after its worker died: the stale timeout (or the
    ageing) plus one sweep, with a margin for a loaded machine."""
    if real_clock():
        return STALE_AFTER_SECONDS + STALE_SWEEP_SECONDS + 10.0
    return STALE_SWEEP_SECONDS + 10.0


def report(name: str, numbers: dict[str, Any]) -> None:
    """Print a scenario's numbers (``pytest -s`` shows them) and append them to
    ``$FAULT_REPORT`` (JSON lines) when set."""
    line = json.dumps({"scenario": name, **numbers}, default=str)
    print(f"\nFAULT {line}", flush=True)
    path = os.environ.get("FAULT_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


# ---- the database, from outside ------------------------------------------------------------


class Db:
    """asyncpg on a private event loop thread: callable from any thread, never touching the
    event loop of whoever calls (pytest's, for instance). One connection per call, so a
    database outage costs the caller an exception, not a broken connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _run(self, method: str, sql: str, args: Sequence[Any]) -> Any:
        conn = await asyncpg.connect(self.dsn, timeout=10)
        try:
            return await getattr(conn, method)(sql, *args)
        finally:
            await conn.close()

    def fetch(self, sql: str, *args: Any) -> list[Any]:
        return list(self._call(self._run("fetch", sql, args)))

    def value(self, sql: str, *args: Any) -> Any:
        return self._call(self._run("fetchval", sql, args))

    def execute(self, sql: str, *args: Any) -> str:
        return str(self._call(self._run("execute", sql, args)))

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


def create_database(admin: Db, name: str | None = None) -> str:
    """A new, migrated database on ``admin``'s server; returns its URL."""
    from honcho_server.db.migrate import upgrade

    name = name or f"f_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin.url).set(database=name).render_as_string(hide_password=False)
    thread = threading.Thread(target=upgrade, args=(url,))  # upgrade runs its own loop
    thread.start()
    thread.join()
    return url


def drop_database(admin: Db, url: str) -> None:
    admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


# ---- the fake model ------------------------------------------------------------------------


def fake_llm(port: int | None = None, latency: float = 0.0) -> FakeOpenAIServer:
    """A started fake OpenAI-compatible server answering every chat request validly (and
    embeddings), on ``port`` if given."""
    state = FakeOpenAI(latency_seconds=latency, default_chat=answer_anything)
    # Always on an explicit port: the socket then allows the port to be taken again at once
    # (SO_REUSEADDR), as the "LLM comes back" scenarios need.
    port = port or free_port()
    deadline = time.monotonic() + 15
    while True:
        try:
            return FakeOpenAIServer(state, port=port).start()
        except OSError:  # the previous server's connections may hold the port a moment
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    return free_port()


def server_env(
    database_url: str,
    *,
    llm_url: str | None,
    embedder_url: str | None,
    **extra: str,
) -> dict[str, str]:
    """The environment of every process of a scenario. ``llm_url`` None: no LLM at all.
    ``embedder_url``: an OpenAI-compatible embedder (the fake; fast on 2 cores), or None for
    the local model (the default install; ``FAULT_EMBEDDER=local`` forces it)."""
    env = {
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "INFO",
        "DREAM_ENABLED": "false",  # automatic dreams wait an hour: they would never drain
    }
    if llm_url is not None:
        env |= {"LLM_BASE_URL": llm_url, "LLM_MODEL": "fake-model", "LLM_API_KEY": "fault"}
    if embedder_url is not None and os.environ.get("FAULT_EMBEDDER", "fake") != "local":
        env |= {
            "EMBEDDING_PROVIDER": "openai",
            "EMBEDDING_BASE_URL": embedder_url,
            "EMBEDDING_MODEL": "fake-embedding",
            "EMBEDDING_API_KEY": "fault",
            "EMBEDDING_DIMENSIONS": "384",
        }
    else:
        env |= {"EMBEDDING_PROVIDER": "local"}
    return env | extra


# ---- processes -----------------------------------------------------------------------------

#: Settings a scenario's processes must not inherit from the test's environment unless the
#: scenario sets them (an LLM, an embedder or a database configured by whoever runs pytest).
_OWN_PREFIXES = ("LLM_", "DERIVER_", "SUMMARY_", "DIALECTIC_", "DREAM_", "EMBEDDING_", "DB_")


def inherited_settings(env: dict[str, str]) -> list[str]:
    """Names in the test's environment that would configure a scenario's processes behind
    its back: to be removed from theirs."""
    return [name for name in os.environ if name.startswith(_OWN_PREFIXES) and name not in env] + [
        n for n in ("HONCHO_DATA_DIR",) if n in os.environ and n not in env
    ]


@dataclass
class Proc:
    role: str  # "serve" | "worker"
    popen: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.monotonic)
    killed_at: float | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None


class Cluster:
    """``serve`` on a fixed port and ``workers`` extra worker processes, all on one database.

    Every process instance logs to its own file in ``logs`` (``serve-1.log``, ``worker-2.log``
    ...), so a killed process's last lines stay readable."""

    def __init__(
        self,
        env: dict[str, str],
        logs: Path,
        *,
        workers: int = 1,
        port: int | None = None,
        serve_env: dict[str, str] | None = None,
    ) -> None:
        self.env = env
        self.serve_env = env | (serve_env or {})
        self.logs = logs
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.serve: Proc | None = None
        self.workers: list[Proc | None] = [None] * workers
        self.dead: list[Proc] = []
        self._instances: Counter[str] = Counter()
        logs.mkdir(parents=True, exist_ok=True)

    def _log(self, role: str) -> Path:
        self._instances[role] += 1
        return self.logs / f"{role}-{self._instances[role]}.log"

    def start(self) -> Cluster:
        self.start_serve()
        for slot in range(len(self.workers)):
            self.start_worker(slot)
        return self

    def start_serve(self) -> Proc:
        log = self._log("serve")
        unset = inherited_settings(self.serve_env)
        process = start_server_on(self.port, self.serve_env, log, unset=unset)
        self.serve = Proc("serve", process, log)
        return self.serve

    def start_worker(self, slot: int = 0) -> Proc:
        log = self._log("worker")
        proc = Proc("worker", start_worker(self.env, log, inherited_settings(self.env)), log)
        self.workers[slot] = proc
        return proc

    def processes(self) -> list[Proc]:
        return [p for p in (self.serve, *self.workers) if p is not None]

    def live_pids(self) -> set[int]:
        return {p.pid for p in self.processes() if p.alive()}

    def kill(self, proc: Proc) -> None:
        """SIGKILL, and reap: the process is certainly gone when this returns."""
        proc.popen.send_signal(signal.SIGKILL)
        proc.popen.wait(timeout=30)
        proc.killed_at = time.monotonic()
        self.dead.append(proc)
        if proc is self.serve:
            self.serve = None
        self.workers = [None if w is proc else w for w in self.workers]

    def restart(self, role: str, slot: int = 0) -> Proc:
        return self.start_serve() if role == "serve" else self.start_worker(slot)

    def ensure_running(self) -> None:
        """Start whatever is not running (killed, or died on its own: that is recorded)."""
        if self.serve is None or not self.serve.alive():
            if self.serve is not None:
                self.dead.append(self.serve)
            self.start_serve()
        for slot, worker in enumerate(self.workers):
            if worker is None or not worker.alive():
                if worker is not None:
                    self.dead.append(worker)
                self.start_worker(slot)

    def unexpected_exits(self) -> list[str]:
        """Processes that died without being killed by us."""
        return [
            f"{p.role} pid {p.pid} exited with {p.popen.returncode}: {tail(p.log, 1500)}"
            for p in self.dead
            if p.killed_at is None
        ]

    def stop(self) -> None:
        """SIGTERM everything still running (SIGKILL after 30 s): only our own processes."""
        for proc in self.processes():
            if proc.alive():
                proc.popen.send_signal(signal.SIGTERM)
        for proc in self.processes():
            try:
                proc.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()

    def all_logs(self) -> list[Path]:
        return sorted(self.logs.glob("*.log"))

    def tracebacks(self) -> list[str]:
        """``Traceback`` excerpts in any log, with the file they are in."""
        found = []
        for path in self.all_logs():
            text = path.read_text(errors="replace")
            at = text.find("Traceback")
            if at >= 0:
                found.append(f"{path.name}: {text[max(0, at - 300) : at + 1500]}")
        return found


def tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def worker_pid(worker_id: str | None) -> int | None:
    """The pid in a worker id (``host:pid:random``)."""
    if not worker_id:
        return None
    parts = worker_id.split(":")
    try:
        return int(parts[-2])
    except (IndexError, ValueError):
        return None


# ---- clients -------------------------------------------------------------------------------


@dataclass
class Sent:
    content: str
    session: str
    peer: str
    acked: bool = False
    resent: bool = False  # sent again after an attempt that got no response
    public_id: str | None = None


@dataclass
class Answer:
    at: float  # monotonic
    status: int | None  # None: no response at all
    detail: str = ""


class Ingest:
    """``clients`` threads POSTing batches of messages into ``sessions`` (session → its
    peers) until each has sent ``messages_per_client`` (or until :meth:`stop`).

    A request that got no response is sent again as is, with no idempotency key (what a
    client library does); so are answers whose status is in ``retry_statuses`` (a 503 says
    "try again"). Any other non-201 answer is recorded and the messages are not sent again.
    """

    def __init__(
        self,
        base_url: str,
        workspace: str,
        sessions: dict[str, list[str]],
        *,
        clients: int,
        messages_per_client: int | None,
        seed: int,
        batch: tuple[int, int] = (1, 4),
        pause: float = 0.0,
        retry_statuses: Iterable[int] = (),
        give_up_after: float = 180.0,
        timeout: float = 15.0,
        tag: str = "m",
    ) -> None:
        self.base_url = base_url
        self.workspace = workspace
        self.sessions = sessions
        self.clients = clients
        self.quota = messages_per_client
        self.seed = seed
        self.batch = batch
        self.pause = pause
        self.retry_statuses = set(retry_statuses)
        self.give_up_after = give_up_after
        self.timeout = timeout
        self.tag = tag
        self.sent: list[Sent] = []
        self.answers: list[Answer] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(clients)
        ]

    def start(self) -> Ingest:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in self._threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def done(self) -> bool:
        return not any(t.is_alive() for t in self._threads)

    # numbers

    def acked(self) -> list[Sent]:
        with self._lock:
            return [s for s in self.sent if s.acked]

    def statuses(self) -> Counter[str]:
        with self._lock:
            return Counter(
                "no response" if a.status is None else str(a.status) for a in self.answers
            )

    def _record(self, answer: Answer) -> None:
        with self._lock:
            self.answers.append(answer)

    def _client(self, index: int) -> None:
        rng = random.Random(self.seed * 1_000 + index)
        names = sorted(self.sessions)
        n = 0
        with httpx.Client(base_url=self.base_url, timeout=self.timeout) as http:
            while not self._stop.is_set() and (self.quota is None or n < self.quota):
                session = rng.choice(names)
                peer = rng.choice(self.sessions[session])
                size = rng.randint(*self.batch)
                if self.quota is not None:
                    size = min(size, self.quota - n)
                batch = []
                for _ in range(size):
                    topic = rng.randint(1, 99)
                    content = f"{self.tag}-c{index}-n{n} {peer} says: note {n} about topic {topic}"
                    batch.append(Sent(content, session, peer))
                    n += 1
                with self._lock:
                    self.sent.extend(batch)
                self._send(http, batch)
                if self.pause:
                    time.sleep(self.pause * rng.uniform(0.5, 1.5))

    def _send(self, http: httpx.Client, batch: list[Sent]) -> None:
        path = f"/v3/workspaces/{self.workspace}/sessions/{batch[0].session}/messages"
        body = {"messages": [{"peer_id": s.peer, "content": s.content} for s in batch]}
        deadline = time.monotonic() + self.give_up_after
        while True:
            try:
                r = http.post(path, json=body)
            except httpx.TransportError as exc:  # no response: connection refused/reset, timeout
                self._record(Answer(time.monotonic(), None, type(exc).__name__))
                for s in batch:
                    s.resent = True
                if time.monotonic() > deadline:
                    self.errors.append(f"gave up after {self.give_up_after}s: {exc!r}")
                    return
                time.sleep(0.2)
                continue
            self._record(Answer(time.monotonic(), r.status_code, r.text[:300]))
            if r.status_code == 201:
                for s, stored in zip(batch, r.json(), strict=True):
                    s.acked, s.public_id = True, stored["id"]
                return
            if r.status_code in self.retry_statuses and time.monotonic() < deadline:
                for s in batch:
                    s.resent = True  # the server said it did not, but count a copy anyway
                time.sleep(min(float(r.headers.get("retry-after", "1") or 1), 1.0))
                continue
            with self._lock:
                self.errors.append(f"POST {path}: {r.status_code} {r.text[:300]}")
            return


def setup_sessions(
    base_url: str, workspace: str, sessions: int, peers: int
) -> dict[str, list[str]]:
    """``sessions`` sessions of ``peers`` peers each; the first peer of each observes the
    others, everyone is observed (reasoning on by default)."""
    layout: dict[str, list[str]] = {}
    with httpx.Client(base_url=base_url, timeout=30) as http:
        r = http.post("/v3/workspaces", json={"id": workspace})
        assert r.status_code in (200, 201), r.text
        for s in range(sessions):
            names = [f"p{s}-{p}" for p in range(peers)]
            config = {
                name: ({"observe_others": True} if i == 0 else {}) for i, name in enumerate(names)
            }
            r = http.post(
                f"/v3/workspaces/{workspace}/sessions", json={"id": f"s{s}", "peers": config}
            )
            assert r.status_code in (200, 201), r.text
            layout[f"s{s}"] = names
    return layout


# ---- checks --------------------------------------------------------------------------------


@dataclass
class MessageCheck:
    acked: int = 0
    found: int = 0  # acknowledged messages found (at least once)
    lost: list[str] = field(default_factory=list)  # acknowledged, not stored
    duplicates: int = 0  # extra rows of messages that were resent after no response
    unexplained_duplicates: list[str] = field(default_factory=list)  # never resent, >1 rows
    unacked_stored: int = 0  # never acknowledged, but stored (the response was lost)
    unacked: int = 0
    gaps: list[str] = field(default_factory=list)  # sessions whose seq_in_session has holes
    rows: int = 0

    def numbers(self) -> dict[str, Any]:
        return {
            "acknowledged": self.acked,
            "found": self.found,
            "lost": len(self.lost),
            "duplicates": self.duplicates,
            "unacknowledged_sent": self.unacked,
            "unacknowledged_but_stored": self.unacked_stored,
            "rows": self.rows,
        }

    def problems(self) -> list[str]:
        out = []
        if self.lost:
            out.append(f"{len(self.lost)} acknowledged message(s) lost, e.g. {self.lost[:5]}")
        if self.unexplained_duplicates:
            out.append(
                f"{len(self.unexplained_duplicates)} message(s) sent once but stored more "
                f"than once, e.g. {self.unexplained_duplicates[:5]}"
            )
        if self.gaps:
            out.append(f"seq_in_session not gap-free: {self.gaps[:5]}")
        return out


def check_messages(db: Db, workspace: str, sent: Sequence[Sent]) -> MessageCheck:
    rows = db.fetch(
        "SELECT content, count(*) AS n FROM messages WHERE workspace_name = $1 GROUP BY content",
        workspace,
    )
    stored = {r["content"]: int(r["n"]) for r in rows}
    check = MessageCheck(rows=sum(stored.values()))
    for s in sent:
        count = stored.get(s.content, 0)
        if not s.acked:
            check.unacked += 1
            check.unacked_stored += count > 0
            check.duplicates += max(count - 1, 0)
            continue
        check.acked += 1
        if count == 0:
            check.lost.append(s.content)
            continue
        check.found += 1
        if count > 1:
            if s.resent:
                check.duplicates += count - 1
            else:
                check.unexplained_duplicates.append(f"{s.content!r} x{count}")
    for r in db.fetch(
        "SELECT session_name, count(*) AS n, count(DISTINCT seq_in_session) AS d,"
        " min(seq_in_session) AS lo, max(seq_in_session) AS hi FROM messages"
        " WHERE workspace_name = $1 GROUP BY session_name",
        workspace,
    ):
        if not (r["n"] == r["d"] and r["lo"] == 1 and r["hi"] == r["n"]):
            check.gaps.append(
                f"{r['session_name']}: {r['n']} rows, {r['d']} distinct seq, {r['lo']}..{r['hi']}"
            )
    return check


def job_counts(db: Db) -> dict[str, dict[str, int]]:
    """kind → status → count, for the whole (scenario's own) database."""
    out: dict[str, dict[str, int]] = {}
    for r in db.fetch("SELECT kind, status, count(*) AS n FROM jobs GROUP BY kind, status"):
        out.setdefault(r["kind"], {})[r["status"]] = int(r["n"])
    return out


def totals(counts: dict[str, dict[str, int]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for by_status in counts.values():
        total.update(by_status)
    return total


def jobs_dump(db: Db, where: str = "status NOT IN ('succeeded')", limit: int = 40) -> str:
    rows = db.fetch(
        "SELECT id, kind, status, attempts, max_attempts, dedupe_key, worker_id, heartbeat_at,"
        " scheduled_at, last_error FROM jobs WHERE " + where + " ORDER BY id LIMIT " + str(limit)
    )
    return "\n".join(
        f"  job {r['id']} {r['kind']} {r['status']} attempts {r['attempts']}/{r['max_attempts']}"
        f" key={r['dedupe_key']} worker={r['worker_id']} heartbeat={r['heartbeat_at']}"
        f" scheduled={r['scheduled_at']} error={(r['last_error'] or '')[:200]!r}"
        for r in rows
    )


def doing(db: Db, kinds: Sequence[str] | None = None) -> list[Any]:
    return db.fetch(
        "SELECT id, kind, worker_id, started_at, heartbeat_at, dedupe_key,"
        " extract(epoch FROM now() - heartbeat_at)::float8 AS heartbeat_age FROM jobs"
        " WHERE status = 'doing' AND ($1::text[] IS NULL OR kind = ANY($1::text[])) ORDER BY id",
        list(kinds) if kinds is not None else None,
    )


def age_heartbeats(db: Db, pids: Iterable[int]) -> list[int]:
    """Make the jobs that the (dead, reaped) processes ``pids`` held look as stale as they
    would after the stale timeout. A no-op with ``FAULT_REAL_STALE``."""
    pids = list(pids)
    if real_clock() or not pids:
        return []
    rows = db.fetch(
        "UPDATE jobs SET heartbeat_at = now() - make_interval(secs => $2)"
        " WHERE status = 'doing' AND split_part(worker_id, ':', 2) = ANY($1::text[])"
        " RETURNING id",
        [str(p) for p in pids],
        STALE_AFTER_SECONDS + 30.0,
    )
    return [int(r["id"]) for r in rows]


@dataclass
class OrphanWatch:
    """Polls the queue: every job ``doing`` under a process that is not alive, and for how
    long (from the kill); jobs ``doing`` under a live process that stopped heartbeating them
    (abandoned: nobody runs them); failed jobs as soon as they appear."""

    db: Db
    cluster: Cluster
    every: float = 0.5
    longest_orphan: float = 0.0
    orphan_jobs: set[int] = field(default_factory=set)
    #: job id → what it looked like when found doing with no heartbeat under a live process
    abandoned: dict[int, str] = field(default_factory=dict)
    failed_seen: list[str] = field(default_factory=list)
    polls: int = 0
    errors: list[str] = field(default_factory=list)
    extra: Callable[[], None] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> OrphanWatch:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.poll()
            except Exception as exc:  # the database may be down in some scenarios
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def poll(self) -> None:
        self.polls += 1
        live = self.cluster.live_pids()
        killed = {p.pid: p.killed_at for p in self.cluster.dead if p.killed_at is not None}
        now = time.monotonic()
        for job in doing(self.db):
            pid = worker_pid(job["worker_id"])
            if pid in live:
                if (job["heartbeat_age"] or 0) > ABANDONED_AFTER_SECONDS:
                    self.abandoned.setdefault(
                        int(job["id"]),
                        f"job {job['id']} {job['kind']} doing under live worker "
                        f"{job['worker_id']}, last heartbeat {job['heartbeat_age']:.0f} s ago",
                    )
                continue
            self.orphan_jobs.add(int(job["id"]))
            since = killed.get(pid) if pid is not None else None
            if since is not None:
                self.longest_orphan = max(self.longest_orphan, now - since)
        if not self.failed_seen:
            failed = self.db.fetch(
                "SELECT id, kind, attempts, last_error FROM jobs WHERE status = 'failed' LIMIT 5"
            )
            self.failed_seen = [
                f"job {r['id']} {r['kind']} attempts {r['attempts']}: {r['last_error']}"
                for r in failed
            ]
        if self.extra is not None:
            self.extra()


def wait_drained(
    db: Db, timeout: float, *, started: float | None = None, poll: float = 0.5
) -> float:
    """Seconds (from ``started``, default now) until no job is ``todo`` or ``doing`` (card
    jobs made due at once, unless ``FAULT_REAL_CLOCK``). Raises AssertionError with the jobs
    still open after ``timeout``."""
    started = started if started is not None else time.monotonic()
    deadline = time.monotonic() + timeout + (CARD_DELAY_SECONDS if real_clock() else 0.0)
    while True:
        if not real_clock():  # the card debounce, fast-forwarded (see the module docstring)
            db.execute(
                "UPDATE jobs SET scheduled_at = now() WHERE status = 'todo' AND kind = 'card'"
                " AND scheduled_at > now()"
            )
        open_jobs = db.value("SELECT count(*) FROM jobs WHERE status IN ('todo', 'doing')")
        if open_jobs == 0:
            return time.monotonic() - started
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the queue did not drain in {timeout:.0f} s; {open_jobs} job(s) open:\n"
                + jobs_dump(db, "status IN ('todo', 'doing', 'failed')")
            )
        time.sleep(poll)


def underived(db: Db, workspace: str) -> list[str]:
    """(session, sender) pairs whose derivation watermark is below their last message."""
    rows = db.fetch(
        """
        SELECT m.session_name, m.peer_name, max(m.id) AS last,
               (s.internal_metadata->'derived_upto'->>m.peer_name)::bigint AS upto
          FROM messages m
          JOIN sessions s ON s.workspace_name = m.workspace_name AND s.name = m.session_name
         WHERE m.workspace_name = $1
         GROUP BY m.session_name, m.peer_name, s.internal_metadata
        """,
        workspace,
    )
    return [
        f"{r['session_name']}/{r['peer_name']}: last message {r['last']}, derived up to {r['upto']}"
        for r in rows
        if r["upto"] is None or r["upto"] < r["last"]
    ]


def derived_pairs(db: Db, workspace: str) -> int:
    return int(
        db.value(
            "SELECT count(*) FROM (SELECT DISTINCT session_name, peer_name FROM messages"
            " WHERE workspace_name = $1) x",
            workspace,
        )
    )


# ---- status --------------------------------------------------------------------------------


def get_status(base_url: str) -> dict[str, Any]:
    r = httpx.get(f"{base_url}/status", timeout=10)
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    return body


def problem_naming(status: dict[str, Any], *needles: str) -> str | None:
    """The first problem line of ``/status`` that contains every one of ``needles``."""
    for line in status.get("problems", []):
        if all(n in line for n in needles):
            return str(line)
    return None


def wait_for_problem(
    base_url: str, *needles: str, timeout: float, poll: float = 0.25
) -> tuple[float, str]:
    """(seconds until ``/status`` had a problem naming ``needles``, the line)."""
    started = time.monotonic()
    last: dict[str, Any] = {}
    while time.monotonic() - started < timeout:
        try:
            last = get_status(base_url)
        except httpx.HTTPError:
            last = {}
        line = problem_naming(last, *needles)
        if line is not None:
            return time.monotonic() - started, line
        time.sleep(poll)
    raise AssertionError(
        f"/status did not name {needles} within {timeout:.0f} s; last problems: "
        f"{last.get('problems')}"
    )


def count_lines(path: Path, start: int, end: int | None = None) -> list[str]:
    """The lines of ``path`` between byte offsets ``start`` and ``end``."""
    with path.open("rb") as f:
        f.seek(start)
        data = f.read() if end is None else f.read(max(0, end - start))
    return data.decode(errors="replace").splitlines()


#: Lines that say nothing about the server's health: the access log (one line per request,
#: ``ACCESS_LOG``) and the HTTP clients' request lines (the worker calling the fake LLM).
_ROUTINE = ("honcho_server.access", "HTTP Request: ")


def said_lines(lines: Iterable[str]) -> list[str]:
    """``lines`` without the routine ones: what the server said about what happened."""
    return [line for line in lines if not any(r in line for r in _ROUTINE)]
