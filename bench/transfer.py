"""Export/import benchmark: time and peak memory of ``honcho-server export`` and ``import``.

For each size in ``--sizes`` (default 10,000 and 100,000 messages) it writes a synthetic
export file (messages of ~40 words over 100 sessions and 20 peers, one conclusion per ten
messages, a peer card per peer), then runs the real CLI as separate processes:

1. ``import`` of that file into a fresh database (the source),
2. ``export`` of the workspace back to a file,
3. ``import`` of the exported file into a second fresh database,

and prints, per step, the wall time, records per second and the process's peak RSS (from
``wait4``). Bounded memory shows as a peak RSS that does not grow with the size.

The databases are created on ``--database-url`` (else ``DATABASE_URL``), else on a throwaway
embedded PostgreSQL in a temporary directory; they are dropped at the end. Message embedding
is off for the imports (``EMBED_MESSAGES=false``: the benchmark measures the transfer, not a
queue of embedding jobs)::

    .venv/bin/python bench/transfer.py                 # 10k and 100k messages
    .venv/bin/python bench/transfer.py --sizes 1000000 --embeddings
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from honcho_server.db.migrate import upgrade
from honcho_server.embeddings.local import MODEL_NAME
from honcho_server.transfer.format import (
    Chunk,
    ConclusionRecord,
    Counts,
    Embedder,
    Header,
    Member,
    MessageRecord,
    PeerCardRecord,
    PeerRecord,
    SessionRecord,
    Trailer,
    WorkspaceRecord,
    dump,
)

ROOT = Path(__file__).resolve().parents[1]
WORDS = (
    "hiking", "kitchen", "flight", "garden", "laptop", "report", "party", "apartment", "budget",
    "guitar", "recipe", "tent", "meeting", "contract", "bookshelf", "vacation", "camera",
    "lesson", "interview", "marathon", "coffee", "sofa", "weekend", "mountain", "river",
    "station", "market", "library", "bakery", "office", "studio", "concert", "museum", "beach",
)  # fmt: skip
PEERS, SESSIONS, DIMENSIONS = 20, 100, 384


@dataclass(frozen=True)
class Step:
    name: str
    records: int
    seconds: float
    peak_rss_mb: float
    file_mb: float


def write_file(path: Path, ws: str, messages: int, vectors: bool) -> int:
    """A synthetic export of ``messages`` messages, written line by line; returns records."""
    rng = random.Random(messages)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    conclusions = messages // 10
    counts = Counts(
        peers=PEERS,
        sessions=SESSIONS,
        messages=messages,
        conclusions=conclusions,
        peer_cards=PEERS,
        embeddings=messages if vectors else 0,
    )
    digest = hashlib.sha256()
    peers = [f"peer-{i}" for i in range(PEERS)]
    with path.open("wb") as f:

        def put(line: bytes) -> None:
            digest.update(line)
            f.write(line)

        put(
            dump(
                Header(
                    version=1,
                    workspace=ws,
                    exported_at=start,
                    server_version="bench",
                    embedder=Embedder(name=MODEL_NAME, dimensions=DIMENSIONS),
                    embeddings=vectors,
                    counts=counts,
                )
            )
        )
        empty: dict[str, object] = {}
        put(
            dump(
                WorkspaceRecord(
                    id=ws, metadata=empty, configuration=empty, internal_metadata=empty,
                    created_at=start,
                )
            )
        )  # fmt: skip
        for p in peers:
            put(
                dump(
                    PeerRecord(
                        id=p, metadata={"kind": "user"}, configuration=empty,
                        internal_metadata=empty, created_at=start,
                    )
                )
            )  # fmt: skip
        per_session = -(-messages // SESSIONS)
        for s in range(SESSIONS):
            members = [
                Member(peer_id=peers[(s + k) % PEERS], configuration=empty, joined_at=start)
                for k in range(2)
            ]
            put(
                dump(
                    SessionRecord(
                        id=f"session-{s}", metadata={"n": s}, configuration=empty,
                        internal_metadata=empty, created_at=start,
                        last_seq=min(per_session, max(0, messages - s * per_session)),
                        members=members,
                    )
                )
            )  # fmt: skip
        for i in range(messages):
            s, seq = divmod(i, per_session)
            content = " ".join(rng.choices(WORDS, k=40))
            vector = [rng.uniform(-1, 1) for _ in range(DIMENSIONS)] if vectors else None
            put(
                dump(
                    MessageRecord(
                        id=f"m{i:07d}-{ws[-8:]}", session_id=f"session-{s}",
                        peer_id=peers[(s + i % 2) % PEERS], seq=seq + 1, content=content,
                        token_count=48, metadata={"i": i}, internal_metadata=empty,
                        created_at=start + timedelta(seconds=i),
                        embeddings=[Chunk(index=0, vector=vector)] if vector else None,
                    )
                )
            )  # fmt: skip
        for i in range(conclusions):
            put(
                dump(
                    ConclusionRecord(
                        id=f"c{i:07d}-{ws[-8:]}", observer=peers[i % PEERS],
                        observed=peers[i % PEERS], session_id=None, level="explicit",
                        content=" ".join(rng.choices(WORDS, k=12)), premises=[],
                        source_message_ids=[f"m{i * 10:07d}-{ws[-8:]}"], source_ids=[],
                        times_derived=1, internal_metadata=empty,
                        created_at=start + timedelta(seconds=i),
                    )
                )
            )  # fmt: skip
        for p in peers:
            put(
                dump(
                    PeerCardRecord(
                        observer=p, observed=p, entries=[f"Name: {p}", "Likes: hiking"],
                        updated_at=start,
                    )
                )
            )  # fmt: skip
        f.write(dump(Trailer(counts=counts, sha256=digest.hexdigest())))
    return counts.total()


def run_cli(args: list[str], url: str) -> tuple[float, float]:
    """Run ``honcho-server ARGS`` on ``url``; (seconds, peak RSS in MB) of that process."""
    env = {**os.environ, "DATABASE_URL": url, "EMBED_MESSAGES": "false", "LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "honcho_server", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"honcho-server {' '.join(args)} failed:\n{stderr}")
    return seconds, usage.ru_maxrss / 1024  # Linux: kilobytes


async def _create(server_url: str, names: list[str]) -> None:
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        for name in names:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()


async def _drop(server_url: str, names: list[str]) -> None:
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        for name in names:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


@contextmanager
def databases(server_url: str, count: int) -> Iterator[list[str]]:
    names = [f"bench_transfer_{uuid.uuid4().hex[:8]}" for _ in range(count)]
    asyncio.run(_create(server_url, names))
    urls = [server_url.rsplit("/", 1)[0] + "/" + name for name in names]
    try:
        for url in urls:
            upgrade(url)
        yield urls
    finally:
        asyncio.run(_drop(server_url, names))


@contextmanager
def postgres(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from honcho_server.db.embedded import EmbeddedPostgres

    data_dir = Path(tempfile.mkdtemp(prefix="honcho-bench-"))
    data_dir.chmod(0o711)
    server = EmbeddedPostgres(data_dir)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def measure(server_url: str, messages: int, vectors: bool, work: Path) -> list[Step]:
    ws = f"bench-{uuid.uuid4().hex[:8]}"
    source_file, exported = work / f"{ws}.jsonl", work / f"{ws}-out.jsonl"
    records = write_file(source_file, ws, messages, vectors)
    flag = ["--embeddings"] if vectors else []
    with databases(server_url, 2) as (source, target):
        steps = []
        seconds, rss = run_cli(["import", str(source_file)], source)
        steps.append(Step("import (source)", records, seconds, rss, _mb(source_file)))
        seconds, rss = run_cli(["export", "--workspace", ws, "--out", str(exported), *flag], source)
        steps.append(Step("export", records, seconds, rss, _mb(exported)))
        seconds, rss = run_cli(["import", str(exported)], target)
        steps.append(Step("import (copy)", records, seconds, rss, _mb(exported)))
    source_file.unlink()
    exported.unlink()
    return steps


def _mb(path: Path) -> float:
    return path.stat().st_size / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="message counts, comma-separated")
    parser.add_argument("--embeddings", action="store_true", help="a 384-d vector per message")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="honcho-bench-files-"))
    try:
        with postgres(args.database_url) as server_url:
            print(f"{'messages':>9} {'step':<16} {'records':>9} {'seconds':>8} {'rec/s':>8} "
                  f"{'peak RSS':>9} {'file':>9}")  # fmt: skip
            for size in (int(s) for s in args.sizes.split(",")):
                for step in measure(server_url, size, args.embeddings, work):
                    print(
                        f"{size:>9,} {step.name:<16} {step.records:>9,} {step.seconds:>8.1f} "
                        f"{step.records / step.seconds:>8,.0f} {step.peak_rss_mb:>6.0f} MB "
                        f"{step.file_mb:>6.1f} MB",
                        flush=True,
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
