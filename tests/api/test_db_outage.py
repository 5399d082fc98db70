"""A real database outage under a real server: only 503s (never a 500), keep-alive survives,
liveness stays up while readiness reports the database, a few log lines, nothing lost.

The real ``honcho-server serve`` runs as a subprocess against its own embedded PostgreSQL,
which the test stops for ~5 s and starts again while a client keeps sending requests over
one keep-alive connection.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from honcho_server.db.embedded import EmbeddedPostgres
from honcho_server.db.migrate import upgrade
from servers import start_server, stop_server

OUTAGE_SECONDS = 5.0
MAX_OUTAGE_LOG_LINES = 10


@dataclass
class Answer:
    at: float
    path: str
    status: int
    headers: dict[str, str]
    body: Any
    client_port: int | None


@dataclass
class Outage:
    base_url: str
    log_path: Path
    database: EmbeddedPostgres


@pytest.fixture
def outage_server(tmp_path: Path, server_dir: Path) -> Iterator[Outage]:
    database = EmbeddedPostgres(server_dir)
    url = database.start()
    upgrade(url)
    log_path = tmp_path / "server.log"
    env = {
        "DATABASE_URL": url,
        "LOG_LEVEL": "INFO",
        "ACCESS_LOG": "false",  # one line per request would drown what this test counts
        "EMBED_MESSAGES": "false",
        "DERIVER_ENABLED": "false",
        "SUMMARY_ENABLED": "false",
        # The in-process worker stays on (the default): its lines count too.
    }
    process, base_url = start_server(env, log_path)
    try:
        yield Outage(base_url, log_path, database)
    finally:
        stop_server(process)
        database.stop()


def _ask(client: httpx.Client, method: str, path: str, body: Any = None) -> Answer:
    r = client.request(method, path, json=body)
    stream = r.extensions.get("network_stream")
    addr = stream.get_extra_info("client_addr") if stream is not None else None
    try:
        payload = r.json()
    except ValueError:
        payload = r.text
    return Answer(time.monotonic(), path, r.status_code, dict(r.headers), payload, addr and addr[1])


def _traffic(base_url: str, ws: str, stop: threading.Event, out: list[Answer]) -> None:
    """Reads, writes, liveness and readiness in turn over ONE keep-alive connection."""
    w = f"/v3/workspaces/{ws}"
    calls: list[tuple[str, str, Any]] = [
        ("GET", "/health", None),
        ("GET", "/ready", None),
        ("GET", "/health?ready=1", None),
        ("POST", f"{w}/sessions/s/messages/list", {}),
        ("POST", f"{w}/sessions/s/messages", {"messages": [{"peer_id": "bo", "content": "x"}]}),
        ("POST", f"{w}/peers", {"id": "carol"}),
        ("GET", f"{w}/sessions/s/context", None),
    ]
    with httpx.Client(base_url=base_url, timeout=30) as client:
        n = 0
        while not stop.is_set():
            method, path, body = calls[n % len(calls)]
            out.append(_ask(client, method, path, body))
            n += 1
            time.sleep(0.02)


def _log_lines(path: Path, start: int) -> list[str]:
    return path.read_bytes()[start:].decode(errors="replace").splitlines()


def _tracebacks(lines: list[str]) -> str:
    """The server's log from each ``-> 500`` line on (its traceback), for a failure message."""
    starts = [i for i, line in enumerate(lines) if "-> 500" in line]
    return "\n".join("\n".join(lines[i : i + 40]) for i in starts[:3])


def test_database_outage_gives_503_never_500(outage_server: Outage) -> None:
    base, ws = outage_server.base_url, f"ws-{uuid.uuid4().hex[:12]}"
    kept = httpx.post(
        f"{base}/v3/workspaces/{ws}/sessions/s/messages",
        json={"messages": [{"peer_id": "alice", "content": "acknowledged before the outage"}]},
    )
    assert kept.status_code == 201
    kept_id = kept.json()[0]["id"]

    answers: list[Answer] = []
    stop = threading.Event()
    traffic = threading.Thread(target=_traffic, args=(base, ws, stop, answers), daemon=True)
    traffic.start()
    try:
        time.sleep(1.0)
        log_start = outage_server.log_path.stat().st_size
        port = outage_server.database.port
        down_at = time.monotonic()
        outage_server.database.stop()
        time.sleep(OUTAGE_SECONDS)
        restart_at = time.monotonic()
        outage_server.database.start()
        up_at = time.monotonic()
        assert outage_server.database.port == port, "the database came back on another port"
        deadline = up_at + 30
        while time.monotonic() < deadline and not _recovered(answers, up_at):
            time.sleep(0.2)
    finally:
        stop.set()
        traffic.join(timeout=60)
    lines = _log_lines(outage_server.log_path, log_start)

    statuses = sorted({a.status for a in answers})
    assert set(statuses) <= {200, 201, 503}, (
        [a for a in answers if a.status not in {200, 201, 503}],
        _tracebacks(lines),  # what the server logged for them
    )
    during = [a for a in answers if down_at + 0.5 < a.at < restart_at]
    assert during, "no request was made while the database was down"
    unavailable = [a for a in answers if a.status == 503]
    assert len(unavailable) >= 10
    for a in unavailable:
        assert a.headers.get("retry-after", "").isdigit(), a
        if a.path.startswith("/v3/"):
            assert set(a.body) == {"detail"} and isinstance(a.body["detail"], str), a
    # Liveness never failed; readiness failed during the outage and recovered after it.
    assert all(a.status == 200 for a in answers if a.path == "/health")
    for ready in ("/ready", "/health?ready=1"):
        probes = [a for a in during if a.path == ready]
        assert probes and all(a.status == 503 for a in probes), ready
        assert probes[0].body["status"] == "unavailable" and probes[0].body["detail"]
        assert [a for a in answers if a.path == ready][-1].status == 200
    # Every request went over the one keep-alive connection: none was dropped.
    assert len({a.client_port for a in answers}) == 1, "the connection was closed"
    # The log: no traceback, a handful of rate-limited lines for the whole outage.
    assert not [line for line in lines if "Traceback" in line], "\n".join(lines)
    assert len(lines) <= MAX_OUTAGE_LOG_LINES, "\n".join(lines)
    print(
        f"\n{len(answers)} requests, {len(unavailable)} x 503, statuses {statuses}, "
        f"{len(lines)} log line(s) during the outage:\n" + "\n".join(lines)
    )

    # The write acknowledged before the outage is still there.
    listed = httpx.post(f"{base}/v3/workspaces/{ws}/sessions/s/messages/list", json={})
    assert listed.status_code == 200
    assert kept_id in {m["id"] for m in listed.json()["items"]}


def _recovered(answers: list[Answer], up_at: float) -> bool:
    """After the restart: readiness answered 200 and a database read succeeded."""
    later = [a for a in list(answers) if a.at > up_at]
    ready = any(a.path == "/ready" and a.status == 200 for a in later)
    read = any(a.path.endswith("/messages/list") and a.status == 200 for a in later)
    return ready and read
