"""Ingest-to-embedding benchmark: messages accepted per second and messages embedded per second.

Start a server with message embedding on (the default), then point this at it::

    HONCHO_DATA_DIR=/tmp/bench-data .venv/bin/honcho-server serve --port 8031 &
    HONCHO_DATA_DIR=/tmp/bench-data .venv/bin/python bench/ingest_embed.py \\
        --url http://127.0.0.1:8031

It creates a fresh workspace, POSTs ``--messages`` messages (seeded sentences of ~30-90
tokens, batches of 20-100, ``--concurrency`` requests in flight) as fast as the API accepts
them, then waits until every message has a row in ``message_embeddings`` and prints:

* API accept throughput: messages / (last 2xx response - first request sent)
* end-to-end throughput: messages / (last embedding written - first request sent)
* p50 / p95 accept -> embedded latency per batch (response received -> the batch's last
  embedding row's ``created_at``, the same machine's clock)
* queue drain time: last accept -> last embedding written; peak queue depth from ``GET /status``

The API does not say whether a message is embedded, so the database is read directly:
``--database-url``, else ``DATABASE_URL``, else the embedded server of ``--data-dir`` (default
``HONCHO_DATA_DIR``, else the server's default data directory): its port is in
``<data-dir>/postgres/port``. Runtime is bounded by ``--timeout`` (waiting for embeddings).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import asyncpg
import httpx

# A plain vocabulary; sentences are built from templates so they read like chat messages.
SUBJECTS = (
    "I", "we", "my sister", "my manager", "the team", "our neighbour", "my friend Sam",
    "the kids", "my partner", "the doctor", "a colleague", "the landlord", "my brother",
)  # fmt: skip
VERBS = (
    "booked", "cancelled", "planned", "finished", "started", "moved", "repaired", "bought",
    "returned", "painted", "cooked", "cleaned", "visited", "forgot", "rescheduled", "ordered",
    "packed", "borrowed", "tested", "signed", "reviewed", "sold", "watched", "organised",
)  # fmt: skip
ADJECTIVES = (
    "old", "new", "small", "broken", "expensive", "cheap", "quiet", "noisy", "blue", "heavy",
    "early", "late", "second", "shared", "weekly", "local", "favourite", "spare", "wooden",
)  # fmt: skip
NOUNS = (
    "bike", "kitchen", "flight", "train", "garden", "laptop", "dentist appointment", "report",
    "birthday party", "apartment", "car", "budget", "guitar", "recipe", "hiking trip", "tent",
    "meeting", "contract", "presentation", "bookshelf", "vacation", "gym membership", "camera",
    "piano lesson", "tax return", "wedding", "interview", "marathon", "coffee machine", "sofa",
)  # fmt: skip
PLACES = (
    "in Lisbon", "at the office", "near the station", "downtown", "at my parents' place",
    "in the mountains", "by the lake", "at the library", "on the coast", "in Berlin",
    "across town", "at the market", "in the garage", "upstairs", "at the clinic",
)  # fmt: skip
TIMES = (
    "last week", "yesterday", "this morning", "on Friday", "next month", "after work",
    "before the holidays", "over the weekend", "in March", "two days ago", "tonight",
)  # fmt: skip
REASONS = (
    "because the price went up again", "since nobody else had time", "so that we could save money",
    "because it kept breaking down", "after a long discussion", "although it was raining",
    "because the deadline moved", "to make room for the new furniture", "as a surprise",
    "because the reviews were good", "even though I was tired", "so the kids could join",
)  # fmt: skip
FEELINGS = (
    "Honestly it went better than expected.", "I am not sure it was worth it.",
    "Everyone seemed happy with the result.", "It took far longer than I planned.",
    "I would do it again without thinking twice.", "The whole thing was a bit stressful.",
    "Next time I will ask for help earlier.", "It cost about twice what we budgeted.",
)  # fmt: skip


def clause(rng: random.Random) -> str:
    return (
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} the {rng.choice(ADJECTIVES)} "
        f"{rng.choice(NOUNS)} {rng.choice(PLACES)} {rng.choice(TIMES)} {rng.choice(REASONS)}"
    )


def sentence(rng: random.Random) -> str:
    """One message of roughly 30-90 model tokens (2-4 clauses, maybe a closing remark)."""
    parts = [clause(rng) for _ in range(rng.randint(2, 4))]
    text = ", and ".join(parts)
    text = text[0].upper() + text[1:] + "."
    if rng.random() < 0.5:
        text += " " + rng.choice(FEELINGS)
    return text


@dataclass
class Batch:
    session: str
    contents: list[str]
    sent: float = 0.0
    accepted: float = 0.0
    ids: list[str] = field(default_factory=list)
    error: str | None = None


def make_batches(n: int, lo: int, hi: int, sessions: int, seed: int) -> list[Batch]:
    rng = random.Random(seed)
    batches: list[Batch] = []
    left = n
    while left > 0:
        size = min(left, rng.randint(lo, hi))
        batches.append(Batch(f"s{len(batches) % sessions}", [sentence(rng) for _ in range(size)]))
        left -= size
    return batches


def count_tokens(texts: list[str]) -> list[int] | None:
    """Token counts with the local model's tokenizer (None if the package is not importable)."""
    try:
        from honcho_server.embeddings.local import load_tokenizer
    except Exception:
        return None
    tok = load_tokenizer()
    return [len(tok.encode(t, add_special_tokens=False).ids) for t in texts]


def database_url(args: argparse.Namespace) -> str:
    url = args.database_url or os.environ.get("DATABASE_URL")
    if not url:
        data_dir = args.data_dir or os.environ.get("HONCHO_DATA_DIR")
        if not data_dir:
            from platformdirs import user_data_dir

            data_dir = user_data_dir("honcho-server")
        port_file = Path(data_dir).expanduser() / "postgres" / "port"
        if not port_file.is_file():
            sys.exit(f"no --database-url / DATABASE_URL and no embedded server port in {port_file}")
        password = quote((port_file.parent / "password").read_text().strip(), safe="")
        port = port_file.read_text().strip()
        url = f"postgresql://postgres:{password}@127.0.0.1:{port}/honcho"
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def post_all(
    client: httpx.AsyncClient, base: str, batches: list[Batch], concurrency: int
) -> None:
    queue: asyncio.Queue[Batch] = asyncio.Queue()
    for b in batches:
        queue.put_nowait(b)

    async def sender(k: int) -> None:
        while not queue.empty():
            b = queue.get_nowait()
            body = {
                "messages": [
                    {"peer_id": f"user{(k + i) % 4}", "content": c}
                    for i, c in enumerate(b.contents)
                ]
            }
            b.sent = time.time()
            r = await client.post(f"{base}/sessions/{b.session}/messages", json=body)
            b.accepted = time.time()
            if r.status_code >= 300:
                b.error = f"HTTP {r.status_code}: {r.text[:200]}"
            else:
                b.ids = [m["id"] for m in r.json()]

    await asyncio.gather(*(sender(k) for k in range(concurrency)))


async def sample_queue(client: httpx.AsyncClient, url: str, stop: asyncio.Event) -> int:
    """Peak pending + running jobs seen on GET /status, sampled once a second."""
    peak = 0
    for _ in range(3600):
        try:
            q = (await client.get(f"{url}/status", timeout=10)).json()["queue"]
            peak = max(peak, int(q["pending"]) + int(q["running"]))
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
            return peak
        except TimeoutError:
            continue
    return peak


async def embedding_warning(client: httpx.AsyncClient, url: str) -> str | None:
    """Why the messages may never be embedded (no live worker), or None."""
    try:
        status = (await client.get(f"{url}/status", timeout=10)).json()
    except (httpx.HTTPError, ValueError):
        return None
    if not any(w.get("alive") for w in status.get("workers", [])):
        return "GET /status shows no live worker"
    return None


# The workspace's embedding jobs: all of them, and those still to run.
JOBS = """
SELECT count(*) AS total, count(*) FILTER (WHERE status IN ('todo', 'doing')) AS open,
       count(*) FILTER (WHERE status = 'failed') AS failed
FROM jobs WHERE workspace_name = $1 AND kind = 'embed_messages'
"""
EMBEDDED = """
SELECT count(DISTINCT e.message_id) AS n, extract(epoch FROM max(e.created_at)) AS last
FROM message_embeddings e JOIN messages m ON m.id = e.message_id
WHERE m.workspace_name = $1 AND e.workspace_name = $1
"""
PER_MESSAGE = """
SELECT m.public_id, extract(epoch FROM max(e.created_at)) AS at
FROM message_embeddings e JOIN messages m ON m.id = e.message_id
WHERE m.workspace_name = $1 AND e.workspace_name = $1
GROUP BY m.public_id
"""


async def main_async(args: argparse.Namespace) -> None:
    dsn = database_url(args)
    batches = make_batches(args.messages, args.min_batch, args.max_batch, args.sessions, args.seed)
    texts = [c for b in batches for c in b.contents]
    tokens = count_tokens(texts)
    workspace = f"bench-embed-{uuid.uuid4().hex[:8]}"
    base = f"{args.url}/v3/workspaces/{workspace}"
    db = await asyncpg.connect(dsn, timeout=10)
    limits = httpx.Limits(max_connections=args.concurrency + 2)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        r = await client.post(f"{args.url}/v3/workspaces", json={"id": workspace})
        r.raise_for_status()
        for s in range(min(args.sessions, len(batches))):
            (await client.post(f"{base}/sessions", json={"id": f"s{s}"})).raise_for_status()
        print(
            f"server {args.url}  workspace {workspace}  {len(texts)} messages in "
            f"{len(batches)} batches  concurrency {args.concurrency}",
            flush=True,
        )
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_queue(client, args.url, stop))
        await post_all(client, base, batches, args.concurrency)
        failed = [b for b in batches if b.error]
        if failed:
            stop.set()
            await sampler
            sys.exit(f"{len(failed)} batch(es) rejected, first: {failed[0].error}")
        first_sent = min(b.sent for b in batches)
        last_accept = max(b.accepted for b in batches)
        print(f"accepted in {last_accept - first_sent:.1f} s; waiting for embeddings", flush=True)

        timeout = args.timeout
        warning = await embedding_warning(client, args.url)
        if warning:
            print(f"warning: {warning}; waiting at most 30 s", flush=True)
            timeout = min(timeout, 30)
        deadline = time.monotonic() + timeout
        done, last_embedded, stuck = 0, None, "the wait timed out"
        for _ in range(int(timeout / args.poll) + 2):
            row = await db.fetchrow(EMBEDDED, workspace)
            done, last_embedded = int(row["n"]), row["last"]
            if done >= len(texts) or time.monotonic() > deadline:
                break
            jobs = await db.fetchrow(JOBS, workspace)
            if jobs["open"] == 0:  # nothing left that could embed the rest
                await asyncio.sleep(args.poll)  # a job that just finished: read its rows
                row = await db.fetchrow(EMBEDDED, workspace)
                done, last_embedded = int(row["n"]), row["last"]
                if done < len(texts):
                    stuck = (
                        f"{jobs['failed']} embed_messages job(s) failed"
                        if jobs["total"]
                        else "no embed_messages jobs were queued (is message embedding off?)"
                    )
                break
            await asyncio.sleep(args.poll)
        stop.set()
        peak_queue = await sampler
        per_message = await db.fetch(PER_MESSAGE, workspace)
        embedded_at = {r["public_id"]: float(r["at"]) for r in per_message}
        if args.delete:
            for s in range(min(args.sessions, len(batches))):
                await client.delete(f"{base}/sessions/s{s}")
            await client.delete(base)
    await db.close()

    n = len(texts)
    accept_s = last_accept - first_sent
    request_ms = [(b.accepted - b.sent) * 1000 for b in batches]
    lat = [
        max(embedded_at[i] for i in b.ids) - b.accepted
        for b in batches
        if all(i in embedded_at for i in b.ids)
    ]
    rows: list[tuple[str, str]] = [
        ("messages / batches", f"{n} / {len(batches)} (sizes {args.min_batch}-{args.max_batch})"),
    ]
    if tokens:
        rows.append(
            ("tokens per message", f"mean {statistics.mean(tokens):.0f}, "
             f"min {min(tokens)}, max {max(tokens)} (MiniLM WordPiece)")
        )  # fmt: skip
    rows += [
        ("API accept throughput", f"{n / accept_s:,.0f} msgs/s ({accept_s:.2f} s)"),
        (
            "request latency",
            f"p50 {pct(request_ms, 50):.0f} ms, p95 {pct(request_ms, 95):.0f} ms "
            f"({args.concurrency} in flight)",
        ),
    ]
    if done < n or last_embedded is None:
        rows.append(("embedded", f"ONLY {done} of {n}: {stuck}"))
    else:
        e2e = float(last_embedded) - first_sent
        rows += [
            ("end-to-end throughput", f"{n / e2e:,.1f} msgs/s ({e2e:.1f} s, first POST -> last "
             "embedding)"),
            ("accept->embedded/batch", f"p50 {pct(lat, 50):.1f} s, p95 {pct(lat, 95):.1f} s, "
             f"max {max(lat):.1f} s"),
            ("queue drain time", f"{float(last_embedded) - last_accept:.1f} s (last accept -> "
             "last embedding)"),
        ]  # fmt: skip
    depth = f"{peak_queue} jobs pending+running, server-wide (GET /status, every 1 s)"
    rows.append(("peak queue depth", depth))
    width = max(len(k) for k, _ in rows)
    print()
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL")
    p.add_argument("--messages", type=int, default=2000)
    p.add_argument("--min-batch", type=int, default=20)
    p.add_argument("--max-batch", type=int, default=100)
    p.add_argument("--sessions", type=int, default=8)
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--database-url", help="the server's database (default: DATABASE_URL)")
    p.add_argument("--data-dir", help="embedded server's HONCHO_DATA_DIR (port discovery)")
    p.add_argument("--timeout", type=float, default=240, help="max seconds to wait for embedding")
    p.add_argument("--poll", type=float, default=0.25, help="seconds between database polls")
    p.add_argument("--delete", action="store_true", help="delete the workspace afterwards")
    args = p.parse_args()
    if not 1 <= args.min_batch <= args.max_batch <= 100:
        p.error("need 1 <= --min-batch <= --max-batch <= 100")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
