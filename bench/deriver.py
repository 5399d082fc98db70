"""Deriver benchmark: messages derived per second against an LLM of fixed latency.

Self-contained: starts the tests' fake OpenAI-compatible server in-process (every chat
completion takes ``--latency-ms``, default 200 ms; extraction requests get two explicit facts
echoing the last new message, summary requests a one-line summary), then a real
``honcho-server serve`` subprocess (embedded Postgres in a temporary ``HONCHO_DATA_DIR``, or
``--database-url``) with ``LLM_BASE_URL=<fake>/v1 LLM_MODEL=fake-model LLM_API_KEY=bench
EMBED_MESSAGES=false``. Message embedding is off so the number isolates derivation (the
conclusions it writes are still embedded, by the local model, outside the measured queue)::

    .venv/bin/python bench/deriver.py
    .venv/bin/python bench/deriver.py --latency-ms 1000 --sessions 16 --worker-concurrency 8

It creates ``--sessions`` sessions of ``--peers`` peers taking turns for ``--messages`` messages
each (default 8 x 2 x 25 = 400), POSTed ``--batch`` at a time (sessions in parallel, each in
order), then polls ``GET /v3/workspaces/{w}/queue/status`` until derive/summarize work is
drained (pending + in progress == 0, total > 0), at most ``--timeout`` seconds, and prints:
messages derived per second (first POST -> drained), derive jobs run (from the jobs table),
LLM requests and tokens (counted by the fake server, cl100k), conclusions (``POST
/conclusions/list``) and summaries (``GET /sessions/{s}/summaries``). The server is stopped with
SIGTERM and the temporary directory removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakes.openai_server import FakeOpenAI, FakeOpenAIServer, _usage  # noqa: E402
from servers import start_server, stop_server  # noqa: E402

TOPICS = (
    "hiking in the alps", "a new sourdough recipe", "the quarterly budget", "learning the cello",
    "moving to Lisbon", "a broken bike chain", "the dentist appointment", "a marathon in May",
    "the garden shed", "a job interview", "the kids' school trip", "a vintage camera",
)  # fmt: skip


def message_text(session: int, turn: int, peer: str) -> str:
    topic = TOPICS[(session * 7 + turn) % len(TOPICS)]
    return (
        f"{peer} here, message {turn} in session {session}: I have been thinking about "
        f"{topic} all week and I plan to sort it out before the weekend."
    )


@dataclass
class Tally:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class BenchLLM(FakeOpenAI):
    """The fake's state, answering every chat request itself instead of from a queue."""

    kinds: dict[str, Tally] = field(default_factory=dict)
    _last_body: Any = None
    _tally_lock: threading.Lock = field(default_factory=threading.Lock)

    def _record(self, request: Any) -> Any:
        # No await between recording a chat request and taking its reply (one event loop),
        # so the body recorded last is the one being answered.
        self._last_body = request.body
        return super()._record(request)

    def _next_chat_reply(self) -> str:
        body = self._last_body if isinstance(self._last_body, dict) else {}
        messages = body.get("messages") or [{}]
        system = str(messages[0].get("content") or "")
        user = str(messages[-1].get("content") or "")
        observed = system.split("a person called ", 1)[-1].split(":", 1)[0].split(".", 1)[0]
        if "long-term memory" in system:
            kind, reply = "extraction", extraction(system, user)
        elif "profile card" in system:
            card = [f"IDENTITY: {observed} is a bench peer", f"ATTRIBUTE: {observed} plans ahead"]
            kind, reply = "card", json.dumps({"entries": card})
        elif body.get("response_format"):
            kind, reply = "other structured", extraction(system, user)
        else:
            kind, reply = "summary", "The participants talked about their plans for the week."
        if any(m.get("role") == "assistant" for m in messages):
            kind += " (corrective retry)"
        usage = _usage(body, reply) if body else {"prompt_tokens": 0, "completion_tokens": 0}
        with self._tally_lock:
            t = self.kinds.setdefault(kind, Tally())
            t.requests += 1
            t.prompt_tokens += usage["prompt_tokens"]
            t.completion_tokens += usage["completion_tokens"]
        return reply


def extraction(system: str, user: str) -> str:
    """Two explicit facts about the observed peer, echoing the last new message."""
    observed = system.split("a person called ", 1)[-1].split(".", 1)[0] or "the user"
    new = user.split("New messages to learn from:\n", 1)[-1].strip().splitlines() or [""]
    last = new[-1].split(": ", 1)[-1]
    words = last.split()
    facts = [
        f"{observed} said: {' '.join(words[:12])}",
        f"{observed} mentioned {' '.join(words[len(words) // 2 - 4 : len(words) // 2 + 4])}",
    ]
    return json.dumps({"explicit": facts, "deductive": []})


KNOWN_KINDS = {"derive", "summarize"}


def job_counts_sql() -> str:
    return (
        "SELECT kind, status, count(*) AS n, sum(attempts) AS attempts FROM jobs "
        "WHERE workspace_name = $1 GROUP BY kind, status ORDER BY kind, status"
    )


async def post_conversations(
    client: httpx.AsyncClient, base: str, args: argparse.Namespace
) -> tuple[float, float]:
    """POST every message; returns (first request sent, last response received)."""
    first: list[float] = []

    async def one_session(s: int) -> None:
        peers = [f"peer{s}-{p}" for p in range(args.peers)]
        total = args.messages * args.peers
        specs = [
            {"peer_id": peers[i % args.peers], "content": message_text(s, i, peers[i % args.peers])}
            for i in range(total)
        ]
        for i in range(0, total, args.batch):
            if not first:
                first.append(time.monotonic())
            r = await client.post(
                f"{base}/sessions/s{s}/messages", json={"messages": specs[i : i + args.batch]}
            )
            if r.status_code >= 300:
                raise RuntimeError(f"POST messages: HTTP {r.status_code}: {r.text[:200]}")

    await asyncio.gather(*(one_session(s) for s in range(args.sessions)))
    return first[0], time.monotonic()


async def wait_drained(
    client: httpx.AsyncClient, base: str, limit_s: float, poll: float
) -> tuple[float | None, dict[str, Any]]:
    deadline = time.monotonic() + limit_s
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = (await client.get(f"{base}/queue/status")).json()
        open_ = status["pending_work_units"] + status["in_progress_work_units"]
        if open_ == 0 and status["total_work_units"] > 0:
            return time.monotonic(), status
        await asyncio.sleep(poll)
    return None, status


async def run(args: argparse.Namespace, url: str, dsn: str, llm: BenchLLM) -> list[tuple]:
    workspace = f"bench-derive-{uuid.uuid4().hex[:8]}"
    base = f"{url}/v3/workspaces/{workspace}"
    n = args.sessions * args.peers * args.messages
    async with httpx.AsyncClient(timeout=60) as client:
        (await client.post(f"{url}/v3/workspaces", json={"id": workspace})).raise_for_status()
        for s in range(args.sessions):
            peers = {f"peer{s}-{p}": {} for p in range(args.peers)}
            r = await client.post(f"{base}/sessions", json={"id": f"s{s}", "peers": peers})
            r.raise_for_status()
        print(f"server {url}  workspace {workspace}  {n} messages; posting", flush=True)
        t0, accepted = await post_conversations(client, base, args)
        print(f"accepted in {accepted - t0:.1f} s; waiting for the queue to drain", flush=True)
        drained, status = await wait_drained(client, base, args.timeout, args.poll)
        r = await client.post(f"{base}/conclusions/list", json={}, params={"size": 1})
        r.raise_for_status()
        conclusions = r.json()["total"]
        summaries = {"short": 0, "long": 0}
        for s in range(args.sessions):
            body = (await client.get(f"{base}/sessions/s{s}/summaries")).json()
            for kind in summaries:
                summaries[kind] += body.get(f"{kind}_summary") is not None
    db = await asyncpg.connect(dsn, timeout=10)
    try:
        jobs = await db.fetch(job_counts_sql(), workspace)
    finally:
        await db.close()

    def jobs_of(kind: str) -> str:
        rows = [r for r in jobs if r["kind"] == kind]
        if not rows:
            return "0"
        by = ", ".join(f"{r['status']} {r['n']}" for r in rows)
        attempts = sum(int(r["attempts"] or 0) for r in rows)
        return f"{sum(r['n'] for r in rows)} ({by}; {attempts} attempts)"

    total = Tally()
    for t in llm.kinds.values():
        total.requests += t.requests
        total.prompt_tokens += t.prompt_tokens
        total.completion_tokens += t.completion_tokens
    rows: list[tuple] = [
        ("messages", f"{n} ({args.sessions} sessions x {args.peers} peers x {args.messages}, "
         f"{args.batch} per POST)"),
        ("LLM latency", f"{args.latency_ms:.0f} ms per chat completion (fake server)"),
        ("worker concurrency", str(args.worker_concurrency)),
        ("API accept", f"{accepted - t0:.2f} s"),
    ]  # fmt: skip
    if drained is None:
        rows.append(("queue drained", f"NO, after {args.timeout:.0f} s: {status}"))
    else:
        e2e = drained - t0
        rows += [
            ("derivation throughput", f"{n / e2e:,.1f} msgs/s ({e2e:.1f} s, first POST -> "
             "queue drained)"),
            ("drain after last accept", f"{drained - accepted:.1f} s"),
        ]  # fmt: skip
    rows += [
        ("derive jobs", jobs_of("derive")),
        ("summarize jobs", jobs_of("summarize")),
    ]
    rows += [(f"{k} jobs", jobs_of(k)) for k in sorted({r["kind"] for r in jobs} - KNOWN_KINDS)]
    for kind, t in sorted(llm.kinds.items()):
        rows.append(
            (f"LLM {kind}", f"{t.requests} requests, {t.prompt_tokens:,} prompt + "
             f"{t.completion_tokens:,} completion tokens")
        )  # fmt: skip
    rows += [
        ("LLM total", f"{total.requests} requests, {total.prompt_tokens:,} prompt + "
         f"{total.completion_tokens:,} completion tokens"),
        ("per message", f"{total.requests / n:.3f} requests, {total.prompt_tokens / n:,.0f} "
         f"prompt + {total.completion_tokens / n:,.1f} completion tokens"),
        ("conclusions created", f"{conclusions} ({conclusions / n:.2f} per message)"),
        ("summaries written", f"{summaries['short']} short, {summaries['long']} long "
         f"(of {args.sessions} sessions)"),
    ]  # fmt: skip
    return rows


def asyncpg_dsn(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sessions", type=int, default=8)
    p.add_argument("--peers", type=int, default=2, help="peers per session, taking turns")
    p.add_argument("--messages", type=int, default=25, help="messages per peer per session")
    p.add_argument("--batch", type=int, default=1, help="messages per POST (1-100)")
    p.add_argument("--latency-ms", type=float, default=200, help="fake LLM latency per request")
    p.add_argument("--worker-concurrency", type=int, default=4, help="WORKER_CONCURRENCY")
    p.add_argument("--database-url", help="use this Postgres instead of an embedded one")
    p.add_argument("--timeout", type=float, default=300, help="max seconds to wait for drain")
    p.add_argument("--poll", type=float, default=0.25, help="seconds between status polls")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (server log, data)")
    args = p.parse_args()
    if not 1 <= args.batch <= 100:
        p.error("need 1 <= --batch <= 100")

    tmp = Path(tempfile.mkdtemp(prefix="honcho-bench-deriver-"))
    llm = BenchLLM(latency_seconds=args.latency_ms / 1000)
    fake = FakeOpenAIServer(llm).start()
    env = {
        "HONCHO_DATA_DIR": str(tmp / "data"),
        "LLM_BASE_URL": fake.base_url,
        "LLM_MODEL": "fake-model",
        "LLM_API_KEY": "bench",
        "EMBED_MESSAGES": "false",
        "WORKER_CONCURRENCY": str(args.worker_concurrency),
        "LOG_LEVEL": "WARNING",
    }
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    process = None
    try:
        process, url = start_server(env, tmp / "server.log")
        if args.database_url:
            dsn = asyncpg_dsn(args.database_url)
        else:
            pg = tmp / "data" / "postgres"
            port = (pg / "port").read_text().strip()
            password = quote((pg / "password").read_text().strip(), safe="")
            dsn = f"postgresql://postgres:{password}@127.0.0.1:{port}/honcho"
        rows = asyncio.run(run(args, url, dsn, llm))
        width = max(len(k) for k, _ in rows)
        print()
        for k, v in rows:
            print(f"{k:<{width}}  {v}")
    finally:
        if process is not None:
            code = stop_server(process)
            if code not in (0, -15):
                print(f"server exited with {code}; log: {tmp / 'server.log'}", file=sys.stderr)
        fake.stop()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
