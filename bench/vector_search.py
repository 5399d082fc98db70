"""Conclusion vector-search benchmark: latency and HNSW recall at 100,000 conclusions.

Needs a reachable PostgreSQL 18 + pgvector, e.g. that of a running embedded server::

    HONCHO_DATA_DIR=/tmp/bench-data .venv/bin/honcho-server serve --port 8031 &
    HONCHO_DATA_DIR=/tmp/bench-data .venv/bin/python bench/vector_search.py

What it does (about 3-4 minutes with the defaults on 2 cores):

1. ``CREATE DATABASE honcho_bench_vs_<random>`` on the server's PostgreSQL (found like the
   server finds it: ``--database-url``, else ``DATABASE_URL``, else the embedded server of
   ``--data-dir`` / ``HONCHO_DATA_DIR``, whose port is in ``<data-dir>/postgres/port``) and
   migrates it with ``honcho_server.db.migrate.upgrade``. Dropped at the end unless ``--keep``.
2. Seeds ``--rows`` (100,000) live conclusions for one (observer, observed) pair, 1% more
   soft-deleted ones, and ``--noise-pairs`` x ``--noise-rows`` conclusions of other pairs.
   200 labelled sentences (20 topics) get real all-MiniLM-L6-v2 embeddings; every other row gets
   a SYNTHETIC unit vector (seeded numpy normal, normalised) so seeding takes seconds, not the
   minutes real embeddings would. The HNSW index is built after the load (as a restore would),
   then ``VACUUM ANALYZE``.
3. Times the SQL the server runs for ``POST /v3/workspaces/{w}/conclusions/query``
   (``VectorRepository.nearest_conclusions``: ``hnsw.iterative_scan = relaxed_order`` and
   ``hnsw.ef_search = max(k, 40)`` for the transaction (``set_config(..., true)``, i.e. ``SET
   LOCAL``), then a ``MATERIALIZED`` CTE ``ORDER BY embedding <=> CAST(:q AS vector) LIMIT k``
   over the pair's live rows, re-sorted outside) for ``--queries`` (200) real query embeddings:
   p50/p95/p99. Like the server (SQLAlchemy + asyncpg) it runs a prepared statement, so after
   five runs PostgreSQL may switch to a generic plan; the same queries are also timed with
   ``plan_cache_mode = force_custom_plan``, and the report names the index each plan uses.
   Recall@k is against exact search (``SET LOCAL enable_indexscan = off``) on
   ``--recall-queries`` (50). All of this also for one small noise pair (a selective filter).
   "topic hits" is the share of the top k that are real sentences of the query's topic.
4. Unless ``--no-http``: starts this checkout's server (``python -m honcho_server serve``, no
   background worker) on the bench database, probes ``POST .../conclusions/query`` and, if it
   answers 200, times it with one httpx client (query embedding + SQL + JSON).

Every timing loop stops after ``--loop-seconds`` (30) even if not all queries ran.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import asyncpg
import httpx
import numpy as np

DIMS = 384
OBSERVER, OBSERVED = "alice", "bob"
# topic label: (facts about bob, what a question about the topic mentions)
TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "cooking": (
        ("he bakes sourdough bread every Sunday morning",
         "his favourite dish is a spicy Thai green curry",
         "he is learning how to make fresh pasta by hand",
         "he burned the risotto at his own dinner party",
         "he keeps a notebook of his grandmother's recipes"),
        ("cooking and baking", "his favourite food", "what he likes to cook",
         "recipes he uses", "his skills in the kitchen"),
    ),
    "running": (
        ("he is training for the Berlin marathon in September",
         "he runs ten kilometres before work three times a week",
         "he injured his knee during a trail run",
         "he switched to lighter running shoes last spring",
         "he tracks his heart rate with a sports watch"),
        ("marathon training", "his running routine", "sports injuries",
         "his exercise habits", "his fitness goals"),
    ),
    "pets": (
        ("he adopted a grey rescue cat named Pixel",
         "his dog is terrified of thunderstorms",
         "he takes the dog to the vet every six months",
         "he is allergic to rabbits",
         "his cat sleeps on his keyboard while he works"),
        ("his pets", "his cat", "his dog", "animals at home", "visits to the vet"),
    ),
    "music": (
        ("he plays jazz piano in a small band",
         "he has been learning the cello for two years",
         "he listens to vinyl records of seventies soul",
         "he went to a Radiohead concert last summer",
         "he wants to record an album of his own songs"),
        ("musical instruments", "his taste in music", "concerts he went to",
         "the band he plays in", "writing songs"),
    ),
    "travel": (
        ("he spent three weeks backpacking through Vietnam",
         "he prefers travelling by train to flying",
         "he is planning a road trip across Iceland",
         "he lost his passport at the airport in Madrid",
         "he collects postcards from every city he visits"),
        ("travel plans", "holidays abroad", "trips he has taken",
         "favourite destinations", "problems at the airport"),
    ),
    "career": (
        ("he was promoted to engineering manager in March",
         "he is worried about layoffs at his company",
         "he negotiated a four-day work week",
         "he is thinking about quitting to start a company",
         "his team missed the quarterly deadline"),
        ("his job", "career plans", "stress at work", "getting promoted",
         "his role as a manager"),
    ),
    "money": (
        ("he is saving for a deposit on a flat",
         "he puts a small amount into index funds every month",
         "he paid off his student loan last year",
         "he tracks every expense in a spreadsheet",
         "he is worried about the rent going up"),
        ("money and savings", "his investments", "debt", "his budget",
         "financial worries"),
    ),
    "health": (
        ("he struggles with insomnia when he is stressed",
         "he stopped drinking coffee after noon",
         "he has a mild peanut allergy",
         "he started seeing a therapist for anxiety",
         "he had his wisdom teeth removed"),
        ("sleep problems", "health issues", "allergies", "his mental health",
         "medical history"),
    ),
    "family": (
        ("his sister just had her first baby",
         "his parents are moving to the countryside",
         "he calls his grandmother every Sunday evening",
         "he argued with his brother about the inheritance",
         "his daughter starts primary school in autumn"),
        ("his family", "his parents", "his siblings", "his children", "relatives"),
    ),
    "gardening": (
        ("he grows tomatoes and basil on his balcony",
         "he built raised beds in the back garden",
         "slugs ate all of his lettuce this year",
         "he composts his kitchen scraps",
         "he wants to plant an apple tree"),
        ("his garden", "growing vegetables", "plants", "the balcony", "composting"),
    ),
    "reading": (
        ("he reads science fiction novels before bed",
         "he is in a book club that meets every month",
         "his favourite author is Ursula Le Guin",
         "he prefers paper books to e-readers",
         "he is rereading The Lord of the Rings"),
        ("books", "his favourite author", "reading habits", "the book club", "novels"),
    ),
    "programming": (
        ("he writes most of his side projects in Rust",
         "he built a home server from an old laptop",
         "he is learning machine learning at weekends",
         "he contributes to an open source database project",
         "he switched from Windows to Linux"),
        ("programming languages", "tech projects", "coding", "computers",
         "open source software"),
    ),
    "languages": (
        ("he is learning Japanese with a tutor",
         "he speaks fluent Portuguese from living in Brazil",
         "he practises Spanish with a language exchange partner",
         "he failed his German exam last year",
         "he wants to learn sign language"),
        ("languages he speaks", "learning a language", "language lessons",
         "foreign languages", "fluency"),
    ),
    "home": (
        ("he is moving to a bigger apartment in June",
         "the heating in his flat broke in January",
         "he is renovating the bathroom himself",
         "he shares a house with three roommates",
         "his landlord raised the rent again"),
        ("where he lives", "moving house", "his apartment", "renovations", "roommates"),
    ),
    "transport": (
        ("he sold his car and now cycles everywhere",
         "his electric scooter was stolen",
         "he commutes an hour by bus each way",
         "he is taking driving lessons",
         "he wants to buy an electric car"),
        ("transport", "his commute", "cars", "cycling", "driving"),
    ),
    "films": (
        ("he watches horror films every Friday night",
         "his favourite director is Hayao Miyazaki",
         "he binge-watched a crime series last weekend",
         "he goes to an independent cinema downtown",
         "he cried at the end of a documentary about whales"),
        ("movies", "tv shows", "favourite films", "going to the cinema",
         "what he watches"),
    ),
    "friends": (
        ("his best friend moved to Canada last year",
         "he hosts a board game night every Thursday",
         "he has felt lonely since starting remote work",
         "he met most of his friends at university",
         "he organised a surprise party for a friend"),
        ("his friends", "social life", "loneliness", "board games", "parties"),
    ),
    "education": (
        ("he is doing a part-time master's degree in statistics",
         "he dropped out of law school",
         "he teaches evening classes in mathematics",
         "he studied architecture in Milan",
         "he is preparing for a certification exam"),
        ("his education", "university", "studying", "his degree", "exams"),
    ),
    "outdoors": (
        ("he hiked the West Highland Way in Scotland",
         "he goes rock climbing at the indoor gym",
         "he camped alone in the mountains for a week",
         "he is afraid of heights but still climbs",
         "he wants to kayak along the Norwegian fjords"),
        ("hiking", "climbing", "camping", "outdoor activities", "adventures in nature"),
    ),
    "diet": (
        ("he has been vegetarian for five years",
         "he does not like mushrooms",
         "he is trying intermittent fasting",
         "he drinks oat milk instead of dairy",
         "he avoids sugar during the week"),
        ("his diet", "food he avoids", "being vegetarian", "eating habits", "nutrition"),
    ),
}  # fmt: skip


def labelled_corpus() -> tuple[list[str], list[str], list[str], list[str]]:
    """200 sentences and 200 queries (10 of each per topic) with their topic labels."""
    texts, labels, queries, query_labels = [], [], [], []
    for topic, (facts, asks) in TOPICS.items():
        for fact in facts:
            texts += [f"Bob mentioned that {fact}.", f"{fact[0].upper()}{fact[1:]}, Bob said."]
            labels += [topic, topic]
        for ask in asks:
            queries += [f"What has Bob said about {ask}?", f"bob {ask}"]
            query_labels += [topic, topic]
    return texts, labels, queries, query_labels


def database_url(args: argparse.Namespace) -> str:
    """The server's database as a plain ``postgresql://`` URL."""
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


def with_database(url: str, name: str) -> str:
    head, _, tail = url.partition("?")
    return head.rsplit("/", 1)[0] + "/" + name + ("?" + tail if tail else "")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def vector_literal(v: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in v.tolist()) + "]"  # as the server writes them


# pgvector's binary format: dimensions (int16), unused (int16), then big-endian float4s.
def _encode_vector(v: np.ndarray) -> bytes:
    return struct.pack(">HH", len(v), 0) + np.asarray(v, dtype=">f4").tobytes()


def _decode_vector(data: bytes) -> np.ndarray:
    (dims, _) = struct.unpack_from(">HH", data)
    return np.frombuffer(data, dtype=">f4", offset=4, count=dims).astype(np.float32)


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn, timeout=10)
    await conn.set_type_codec(
        "vector", schema="public", encoder=_encode_vector, decoder=_decode_vector, format="binary"
    )
    return conn


@dataclass
class Seed:
    """What was seeded: one pair of ``rows`` live rows, ``labels`` of the real-vector rows."""

    run: str
    workspace: str
    rows: int
    total: int
    small_pair: tuple[str, str]
    small_rows: int
    labels: dict[str, str] = field(default_factory=dict)  # conclusion id -> topic


COLUMNS = ["id", "workspace_name", "observer", "observed", "content", "embedding", "deleted_at"]
SYN_WORDS = (
    "Bob", "likes", "visited", "mentioned", "prefers", "bought", "plans", "the", "a", "new",
    "old", "trip", "job", "friend", "book", "weekend", "city", "project", "dinner", "class",
)  # fmt: skip


def seed_records(
    args: argparse.Namespace, real: np.ndarray, texts: list[str], labels: list[str], seed: Seed
) -> Iterator[list[tuple[object, ...]]]:
    """Chunks of COPY records: the real rows, then synthetic unit vectors (seeded)."""
    rng = np.random.default_rng(args.seed)
    n = 0

    def next_id() -> str:
        nonlocal n
        n += 1
        return f"b{seed.run}{n:012d}"  # 21 characters, like the server's ids

    chunk: list[tuple[object, ...]] = []
    for text, label, vec in zip(texts, labels, real, strict=True):
        cid = next_id()
        seed.labels[cid] = label
        chunk.append((cid, seed.workspace, OBSERVER, OBSERVED, text, vec, None))
    yield chunk
    deleted = args.rows // 100
    pairs = [
        (OBSERVER, OBSERVED, args.rows - len(texts), False),
        (OBSERVER, OBSERVED, deleted, True),
    ]
    pairs += [(f"peer{p}", f"peer{p + 1}", args.noise_rows, False) for p in range(args.noise_pairs)]
    now = time.time()
    for observer, observed, count, is_deleted in pairs:
        for start in range(0, count, 10_000):
            size = min(10_000, count - start)
            vecs = rng.standard_normal((size, DIMS), dtype=np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            words = rng.integers(0, len(SYN_WORDS), (size, 12))
            gone = datetime.fromtimestamp(now, UTC) if is_deleted else None
            yield [
                (
                    next_id(),
                    seed.workspace,
                    observer,
                    observed,
                    " ".join(SYN_WORDS[w] for w in words[i]) + f" (synthetic {start + i})",
                    vecs[i],
                    gone,
                )
                for i in range(size)
            ]
    seed.total = n


async def seed_database(
    conn: asyncpg.Connection,
    args: argparse.Namespace,
    real: np.ndarray,
    texts: list[str],
    labels: list[str],
    seed: Seed,
    *,
    rebuild_index: bool,
) -> dict[str, float]:
    """Load the rows (COPY); with ``rebuild_index`` drop the HNSW index first and rebuild it."""
    timings: dict[str, float] = {}
    await conn.execute(
        "INSERT INTO workspaces (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", seed.workspace
    )
    peers = {OBSERVER, OBSERVED, *(f"peer{p}" for p in range(args.noise_pairs + 1))}
    await conn.executemany(
        "INSERT INTO peers (workspace_name, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [(seed.workspace, peer) for peer in sorted(peers)],
    )
    index_def = await conn.fetchval(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_conclusions_embedding_hnsw'"
    )
    if rebuild_index:
        await conn.execute("DROP INDEX ix_conclusions_embedding_hnsw")
    started = time.perf_counter()
    for chunk in seed_records(args, real, texts, labels, seed):
        await conn.copy_records_to_table("conclusions", records=chunk, columns=COLUMNS)
    timings["load"] = time.perf_counter() - started
    if rebuild_index:
        started = time.perf_counter()
        await conn.execute("SET maintenance_work_mem = '1GB'")
        await conn.execute(index_def)
        timings["index"] = time.perf_counter() - started
    started = time.perf_counter()
    await conn.execute("VACUUM ANALYZE conclusions")
    timings["vacuum"] = time.perf_counter() - started
    return timings


# The statements of VectorRepository.nearest_conclusions (src/honcho_server/db/repositories/
# vectors.py), with the filters a conclusions query for one (observer, observed) pair makes.
SETTINGS_SQL = (
    "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
    "set_config('hnsw.ef_search', $1, true)"
)
QUERY_SQL = """
WITH nearest AS MATERIALIZED (
    SELECT id, workspace_name, observer, observed, session_name, level, content, created_at,
           embedding <=> CAST($1::text AS vector) AS distance
    FROM conclusions
    WHERE embedding IS NOT NULL AND deleted_at IS NULL
      AND workspace_name = $2 AND observer = $3 AND observed = $4
    ORDER BY distance
    LIMIT $5
)
SELECT * FROM nearest ORDER BY distance, id
"""


@dataclass
class Timed:
    query_ms: list[float]  # prepared statement, plan_cache_mode = auto (what the server gets)
    txn_ms: list[float]
    custom_ms: list[float]  # the same with plan_cache_mode = force_custom_plan
    plans: str
    recall: float  # of the custom (HNSW) plan's results
    auto_recall: float  # of the results the server's plan gave
    topic_hits: float | None
    truth: dict[int, list[str]]


# Distinct text so it never shares a cached plan with QUERY_SQL (planner settings such as
# enable_indexscan do not invalidate cached plans).
EXACT_SQL = "/* exact */" + QUERY_SQL


async def search(
    conn: asyncpg.Connection,
    q: str,
    pair: tuple[str, str],
    ws: str,
    k: int,
    mode: str = "auto",
) -> tuple[list[str], float, float]:
    """Ids of the k nearest and the query statement's and whole transaction's milliseconds.

    ``mode``: ``auto`` (as the server runs it), ``custom`` (plan_cache_mode =
    force_custom_plan), ``exact`` (custom plan with enable_indexscan = off: brute force).
    """
    t0 = time.perf_counter()
    async with conn.transaction():
        await conn.fetchval(SETTINGS_SQL, str(min(max(k, 40), 1000)))
        if mode != "auto":
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        if mode == "exact":
            await conn.execute("SET LOCAL enable_indexscan = off")
        t1 = time.perf_counter()
        sql = EXACT_SQL if mode == "exact" else QUERY_SQL
        rows = await conn.fetch(sql, q, ws, pair[0], pair[1], k)
        t2 = time.perf_counter()
    t3 = time.perf_counter()
    return [r["id"] for r in rows], (t2 - t1) * 1000, (t3 - t0) * 1000


async def plans(conn: asyncpg.Connection, q: str, pair: tuple[str, str], ws: str, k: int) -> str:
    """Which index the custom plan (values known) and the generic plan scan."""

    def index(plan: list[asyncpg.Record]) -> str:
        text = "\n".join(r[0] for r in plan)
        if "ix_conclusions_embedding_hnsw" in text:
            return "HNSW"
        return "pair btree + sort" if "ix_conclusions_pair" in text else "scan + sort"

    def lit(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    execute = f"EXECUTE bench_plan({lit(q)}, {lit(ws)}, {lit(pair[0])}, {lit(pair[1])}, {k})"
    async with conn.transaction():
        await conn.fetchval(SETTINGS_SQL, str(min(max(k, 40), 1000)))
        await conn.execute("PREPARE bench_plan(text, text, text, text, int) AS " + QUERY_SQL)
        custom = await conn.fetch("EXPLAIN " + execute)
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        generic = await conn.fetch("EXPLAIN " + execute)
        await conn.execute("DEALLOCATE bench_plan")
    return f"custom plan: {index(custom)}, generic plan: {index(generic)}"


def recall(found: dict[int, list[str]], truth: dict[int, list[str]]) -> float:
    shares = [len(set(t) & set(found[i])) / len(t) for i, t in truth.items() if t and i in found]
    return sum(shares) / len(shares) if shares else float("nan")


WARM_UP = 6  # PostgreSQL plans a prepared statement's first 5 runs with the values, then decides


async def measure(
    dsn: str,
    queries: list[str],
    query_labels: list[str],
    pair: tuple[str, str],
    seed: Seed,
    args: argparse.Namespace,
) -> Timed:
    """One connection, as a pooled server connection serving this pair would be. Each loop
    stops after ``--loop-seconds``."""
    k, ws = args.k, seed.workspace
    conn = await connect(dsn)
    try:
        for q in queries[:WARM_UP]:
            await search(conn, q, pair, ws, k)
        query_ms, txn_ms, hits, found = [], [], [], {}
        deadline = time.monotonic() + args.loop_seconds
        for i, q in enumerate(queries):
            ids, q_ms, t_ms = await search(conn, q, pair, ws, k)
            query_ms.append(q_ms)
            txn_ms.append(t_ms)
            found[i] = ids
            hits.append(sum(seed.labels.get(c) == query_labels[i] for c in ids) / k)
            if time.monotonic() > deadline:
                break
        custom_ms, custom = [], {}
        deadline = time.monotonic() + args.loop_seconds
        for i, q in enumerate(queries):
            custom[i], q_ms, _ = await search(conn, q, pair, ws, k, "custom")
            custom_ms.append(q_ms)
            if time.monotonic() > deadline:
                break
        truth = {}
        deadline = time.monotonic() + args.loop_seconds
        for i, q in enumerate(queries[: args.recall_queries]):
            truth[i] = (await search(conn, q, pair, ws, k, "exact"))[0]
            if time.monotonic() > deadline:
                break
        return Timed(
            query_ms,
            txn_ms,
            custom_ms,
            await plans(conn, queries[0], pair, ws, k),
            recall(custom, truth),
            recall(found, truth),
            sum(hits) / len(hits) if pair == (OBSERVER, OBSERVED) else None,
            truth,
        )
    finally:
        await conn.close()


async def create_database(admin: str, name: str) -> None:
    conn = await asyncpg.connect(admin, timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(admin: str, name: str) -> None:
    conn = await asyncpg.connect(admin, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def run_sql(
    dsn: str,
    args: argparse.Namespace,
    real: np.ndarray,
    data: tuple[list[str], list[str], list[str], list[str]],
    seed: Seed,
) -> tuple[dict[str, float], dict[str, Timed]]:
    texts, labels, queries, query_labels = data
    conn = await connect(dsn)
    try:
        timings = await seed_database(conn, args, real, texts, labels, seed, rebuild_index=True)
    finally:
        await conn.close()
    results = {}
    for pair, rows in (((OBSERVER, OBSERVED), seed.rows), (seed.small_pair, seed.small_rows)):
        print(f"timing {pair[0]} -> {pair[1]} ({rows:,} rows)", flush=True)
        label = f"{rows:,} of {seed.total:,}"
        results[label] = await measure(dsn, queries, query_labels, pair, seed, args)
    return timings, results


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def query_body(text: str, k: int) -> dict[str, object]:
    pair = {"observer_id": OBSERVER, "observed_id": OBSERVED}
    return {"query": text, "top_k": k, "filters": pair}


def run_http(
    dsn: str, args: argparse.Namespace, queries: list[str], seed: Seed, truth: dict[int, list[str]]
) -> list[tuple[str, str]]:
    """Serve the bench database with this checkout's honcho-server and time the endpoint."""
    port = args.http_port or free_port()
    env = {**os.environ, "DATABASE_URL": dsn, "EMBEDDED_WORKER": "false", "LOG_LEVEL": "WARNING"}
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "honcho_server", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                for _ in range(600):  # up to 60 s to start
                    if server.poll() is not None:
                        log.seek(0)
                        return [("HTTP", f"server exited at start: {log.read()[-300:]}")]
                    try:
                        client.get("/health", timeout=1)
                        break
                    except httpx.HTTPError:
                        time.sleep(0.1)
                return time_http(client, args, queries, seed, truth)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def time_http(
    client: httpx.Client,
    args: argparse.Namespace,
    queries: list[str],
    seed: Seed,
    truth: dict[int, list[str]],
) -> list[tuple[str, str]]:
    endpoint = f"/v3/workspaces/{seed.workspace}/conclusions/query"
    probe = client.post(endpoint, json=query_body("probe", 1))
    if probe.status_code != 200:
        why = f"not timed: the probe answered {probe.status_code} {probe.text[:80]}"
        return [("HTTP /conclusions/query", why)]
    # A new pooled connection plans a prepared statement's first 5 runs with the values; the
    # probe was the first, so these 4 are the rest (if the server used one connection).
    first_ms = []
    for q in queries[:4]:
        t0 = time.perf_counter()
        client.post(endpoint, json=query_body(q, args.k)).raise_for_status()
        first_ms.append((time.perf_counter() - t0) * 1000)
    for q in queries[4:WARM_UP]:
        client.post(endpoint, json=query_body(q, args.k)).raise_for_status()
    ms, found = [], {}
    deadline = time.monotonic() + args.loop_seconds
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        r = client.post(endpoint, json=query_body(q, args.k))
        ms.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
        body = r.json()
        items = body["items"] if isinstance(body, dict) else body
        found[i] = [c["id"] for c in items]
        if time.monotonic() > deadline:
            break
    return [
        (
            "HTTP /conclusions/query",
            f"p50 {pct(ms, 50):.1f} ms  p95 {pct(ms, 95):.1f} ms  ({len(ms)} requests, 1 client, "
            f"query embedded by the server; recall@{args.k} {recall(found, truth):.3f})",
        ),
        (
            "  requests 2-5",
            f"p50 {pct(first_ms, 50):.1f} ms  max {max(first_ms):.1f} ms  (after the probe; a new "
            "server connection plans a statement's first 5 runs with the values)",
        ),
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--database-url", help="the server's database (default: DATABASE_URL)")
    p.add_argument("--data-dir", help="embedded server's HONCHO_DATA_DIR (port discovery)")
    p.add_argument("--rows", type=int, default=100_000, help="live conclusions of the pair")
    p.add_argument("--noise-pairs", type=int, default=20)
    p.add_argument("--noise-rows", type=int, default=1_000, help="conclusions per noise pair")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--recall-queries", type=int, default=50)
    p.add_argument("-k", type=int, default=10, help="top_k")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--loop-seconds", type=float, default=30, help="time limit of each loop")
    p.add_argument("--no-http", action="store_true", help="skip the HTTP endpoint part")
    p.add_argument("--http-port", type=int, default=0, help="port of the HTTP part's server")
    p.add_argument("--keep", action="store_true", help="keep the bench database")
    args = p.parse_args()
    if args.rows < 1000 or args.noise_pairs < 1 or not 1 <= args.k <= 100:
        p.error("need --rows >= 1000, --noise-pairs >= 1 and 1 <= -k <= 100")

    from honcho_server.db.migrate import upgrade
    from honcho_server.embeddings.local import LocalEmbedder
    from honcho_server.settings import normalise_database_url

    admin = database_url(args)
    run = uuid.uuid4().hex[:8]
    name = f"honcho_bench_vs_{run}"
    dsn = with_database(admin, name)
    texts, labels, base_queries, base_labels = labelled_corpus()
    reps = -(-args.queries // len(base_queries))
    queries = (base_queries * reps)[: args.queries]
    query_labels = (base_labels * reps)[: args.queries]

    started = time.perf_counter()
    embedder = LocalEmbedder(threads=2)
    vectors = np.asarray(embedder.embed_sync(texts + base_queries), dtype=np.float32)
    embed_s = time.perf_counter() - started
    real = vectors[: len(texts)]
    by_text = dict(zip(base_queries, vectors[len(texts) :], strict=True))
    q_literals = [vector_literal(by_text[q]) for q in queries]

    print(f"bench database {name} on {admin.rsplit('@', 1)[-1].rsplit('/', 1)[0]}", flush=True)
    asyncio.run(create_database(admin, name))
    try:
        started = time.perf_counter()
        upgrade(normalise_database_url(dsn))
        migrate_s = time.perf_counter() - started
        seed = Seed(run, f"bench-vs-{run}", args.rows, 0, ("peer0", "peer1"), args.noise_rows)
        print(f"seeding {args.rows:,} + noise conclusions, building the HNSW index", flush=True)
        data = (texts, labels, q_literals, query_labels)
        timings, results = asyncio.run(run_sql(dsn, args, real, data, seed))
        http_rows: list[tuple[str, str]] = []
        if not args.no_http:
            print("timing the HTTP endpoint (this checkout's server on the bench db)", flush=True)
            truth = next(iter(results.values())).truth
            http_rows = run_http(dsn, args, queries, seed, truth)
    finally:
        if not args.keep:
            asyncio.run(drop_database(admin, name))

    rows = [
        (
            "seeded",
            f"{seed.total:,} conclusions ({seed.rows // 100:,} soft-deleted): {len(texts)} real "
            "all-MiniLM-L6-v2 vectors (labelled), the rest synthetic random unit vectors",
        ),
        (
            "setup",
            f"embed {len(texts) + len(base_queries)} texts {embed_s:.1f} s, migrate "
            f"{migrate_s:.1f} s, COPY {timings['load']:.1f} s, HNSW build {timings['index']:.1f} "
            f"s, VACUUM ANALYZE {timings['vacuum']:.1f} s",
        ),
    ]
    for label, t in results.items():
        hits = f"; topic hits {100 * t.topic_hits:.0f}%" if t.topic_hits is not None else ""
        rows += [
            (
                f"SQL, pair of {label}",
                f"p50 {pct(t.query_ms, 50):.2f} ms  p95 {pct(t.query_ms, 95):.2f} ms  "
                f"p99 {pct(t.query_ms, 99):.2f} ms  ({len(t.query_ms)} queries; prepared, "
                f"plan_cache_mode=auto, as the server; txn p50 {pct(t.txn_ms, 50):.2f} ms; "
                f"recall@{args.k} {t.auto_recall:.3f})",
            ),
            (
                "  custom plans",
                f"p50 {pct(t.custom_ms, 50):.2f} ms  p95 {pct(t.custom_ms, 95):.2f} ms  "
                f"p99 {pct(t.custom_ms, 99):.2f} ms  ({len(t.custom_ms)} queries; "
                "plan_cache_mode=force_custom_plan)",
            ),
            (
                "  recall / plans",
                f"recall@{args.k} {t.recall:.3f} (custom plans vs exact, {len(t.truth)} "
                f"queries){hits}; {t.plans}",
            ),
        ]
    rows += http_rows
    width = max(len(k) for k, _ in rows)
    print()
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    if args.keep:
        print(f"\nkept database {name}")


if __name__ == "__main__":
    main()
