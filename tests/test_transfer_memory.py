"""Export and import stream: the real CLI's peak memory does not grow with the workspace.

Two workspaces made through the REST API (100 messages a request, ~1 KB each, all in one
session — the case a per-session "load it all" would hit hardest): a small one of 2,000
messages, more than an import batch, and a big one of 20,000. Each goes out through
``honcho-server export`` and back in through ``honcho-server import`` on a fresh database,
and the child's peak RSS is read from ``wait4``. The big transfer may use more memory than the
small one by at most a quarter of the big file's size: reading the file whole (a str of its
bytes), building the export in memory, or holding every message of a session, would all add
more than the whole file. bench/transfer.py shows the same at 100k messages, with timings.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from databases import fresh_database
from servers import ROOT, start_server, stop_server

SMALL, BIG, BATCH = 2_000, 20_000, 100
FILLER = (
    "We talked about the trip again: the huts, the weather on the pass, who carries the stove,"
    " whether the early train still runs on Sundays and what to do if the glacier path is shut."
)
SERVER_ENV = {
    "LOG_LEVEL": "WARNING",
    "EMBED_MESSAGES": "false",
    "DERIVER_ENABLED": "false",
    "SUMMARY_ENABLED": "false",
}


@dataclass(frozen=True)
class Run:
    returncode: int
    stderr: str
    peak_rss_bytes: int


def measured_cli(args: list[str], env: dict[str, str], timeout: float = 300) -> Run:
    """``honcho-server ARGS`` (the real CLI) as a child process; its peak RSS from ``wait4``
    (that child's own, not the largest of every child this test process ever had)."""
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "honcho_server", *args],
            env={**os.environ, "LOG_LEVEL": "WARNING", **env},
            stdout=subprocess.DEVNULL,
            stderr=err,
            cwd=ROOT,
        )
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            killer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait
        err.seek(0)
        return Run(process.returncode, err.read().decode(errors="replace"), usage.ru_maxrss * 1024)


def seed(base_url: str, ws: str, messages: int) -> None:
    """One session of ``messages`` messages of ~1 KB from two peers, 100 per request."""
    with httpx.Client(base_url=base_url, timeout=120) as client:
        base = f"/v3/workspaces/{ws}"
        client.post("/v3/workspaces", json={"id": ws}).raise_for_status()
        client.post(
            f"{base}/sessions", json={"id": "long", "peers": {"alice": {}, "bob": {}}}
        ).raise_for_status()
        for start in range(0, messages, BATCH):
            items = [
                {
                    "peer_id": "alice" if i % 2 else "bob",
                    "content": f"{i}: {FILLER} {FILLER} {FILLER} {FILLER} {FILLER} #{i * 7919}",
                    "metadata": {"n": i},
                }
                for i in range(start, min(start + BATCH, messages))
            ]
            made = client.post(f"{base}/sessions/long/messages", json={"messages": items})
            made.raise_for_status()


def message_total(base_url: str, ws: str) -> int:
    listed = httpx.post(
        f"{base_url}/v3/workspaces/{ws}/sessions/long/messages/list",
        json={},
        params={"size": 1},
        timeout=30,
    )
    listed.raise_for_status()
    return int(listed.json()["total"])


@pytest.fixture(scope="module")
async def target(database_url: str) -> AsyncIterator[str]:
    async with fresh_database(database_url) as url:
        yield url


def _round_trip(
    source: str, database_url: str, target: str, target_server: str, messages: int, tmp: Path
) -> tuple[Run, Run, int]:
    ws = f"mem-{messages}-{uuid.uuid4().hex[:8]}"
    seed(source, ws, messages)
    file = tmp / f"{ws}.jsonl"
    out = measured_cli(
        ["export", "--workspace", ws, "--out", str(file)], {"DATABASE_URL": database_url}
    )
    assert out.returncode == 0, out.stderr
    assert f"exported messages: {messages:,}/{messages:,} 100% (" in out.stderr
    back = measured_cli(["import", str(file)], {"DATABASE_URL": target, "EMBED_MESSAGES": "false"})
    assert back.returncode == 0, back.stderr
    assert f"imported messages: {messages:,}/{messages:,} 100% (" in back.stderr
    # what a user notices: every message is there on the other side
    assert message_total(target_server, ws) == messages
    return out, back, file.stat().st_size


def test_export_and_import_memory_does_not_grow_with_the_workspace(
    live_server: str,
    database_url: str,
    target: str,
    tmp_path: Path,
) -> None:
    log = tmp_path / "target.log"
    process, target_server = start_server({**SERVER_ENV, "DATABASE_URL": target}, log)
    try:
        small = _round_trip(live_server, database_url, target, target_server, SMALL, tmp_path)
        big = _round_trip(live_server, database_url, target, target_server, BIG, tmp_path)
    finally:
        stop_server(process)
    (small_out, small_in, small_size), (big_out, big_in, big_size) = small, big
    assert big_size > 20 * 1024 * 1024, "the big file should dwarf the allocator's noise"
    assert big_size > 9 * small_size
    mb = 1024 * 1024
    report = (
        f"file {small_size / mb:.1f} MB → {big_size / mb:.1f} MB; peak RSS export "
        f"{small_out.peak_rss_bytes / mb:.0f} → {big_out.peak_rss_bytes / mb:.0f} MB, import "
        f"{small_in.peak_rss_bytes / mb:.0f} → {big_in.peak_rss_bytes / mb:.0f} MB"
    )
    print(report)
    allowance = big_size // 4
    for step, before, after in (("export", small_out, big_out), ("import", small_in, big_in)):
        grew = after.peak_rss_bytes - before.peak_rss_bytes
        assert grew < allowance, f"{step}: peak RSS grew by {grew / mb:.1f} MB ({report})"
