"""The embedded database is supervised: `honcho-server serve` restarts a postmaster that was
SIGKILL-ed (the OOM killer, a stray `kill -9`) on the same data dir and port, the API recovers
with no operator action and nothing acknowledged is lost; SIGTERM afterwards stops it all."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from servers import start_server, stop_server

RECOVERY_LIMIT = 30.0  # seconds from the kill until writes and reads work again
SESSION = "/v3/workspaces/supervised-ws/sessions/s"


def _embedded_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {"HONCHO_DATA_DIR": str(data_dir), "LOG_LEVEL": "INFO", **extra}
    for key in ("DATABASE_URL", "DB_CONNECTION_URI"):
        os.environ.pop(key, None)  # the embedded default: no database configured at all
    return env


def _pidfile(data_dir: Path) -> tuple[int, int] | None:
    """(postmaster pid, port) from the cluster's postmaster.pid, or None."""
    for path in data_dir.rglob("postmaster.pid"):
        lines = path.read_text().splitlines()
        if len(lines) >= 4 and lines[0].strip().isdigit() and lines[3].strip().isdigit():
            return int(lines[0]), int(lines[3])
    return None


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _postgres_processes(pgdata: Path) -> list[int]:
    """Live (non-zombie) postgres processes whose working directory is the cluster."""
    target = os.path.realpath(pgdata)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            if os.readlink(entry / "cwd") != target:
                continue
        except OSError:
            continue
        if _state(int(entry.name)) not in (None, "Z"):
            found.append(int(entry.name))
    return found


def _kill(pid: int) -> float:
    """SIGKILL ``pid`` and wait until it is dead; the moment of the kill."""
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    while _state(pid) not in (None, "Z"):
        time.sleep(0.01)
    return killed_at


def _supervisor_lines(log_path: Path, offset: int) -> list[str]:
    """WARNING and ERROR lines of the embedded-database logger written after ``offset``."""
    log = log_path.read_bytes()[offset:].decode(errors="replace")
    return [
        line
        for line in log.splitlines()
        if "honcho_server.db.embedded" in line and (" WARNING " in line or " ERROR " in line)
    ]


def _wait_for_log(log_path: Path, offset: int, pattern: str, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while not any(re.search(pattern, line) for line in _supervisor_lines(log_path, offset)):
        assert time.monotonic() < deadline, f"no {pattern!r} in\n{log_path.read_text()[-4000:]}"
        time.sleep(0.1)
    return _supervisor_lines(log_path, offset)


def _busy_backend(data_dir: Path, port: int) -> tuple[subprocess.Popen[bytes], int]:
    """A psql client running an endless PL/pgSQL loop, and the pid of its backend.

    Such a backend never checks whether its postmaster is alive: it outlives a SIGKILL of
    the postmaster, holding the old shared memory, and PostgreSQL cannot start until it is gone.
    """
    psql = next(data_dir.rglob("pginstall/bin/psql"))
    password = next(data_dir.rglob("postgres/password")).read_text().strip()
    loop = "DO $$ BEGIN LOOP END LOOP; END $$"
    client = subprocess.Popen(
        [str(psql), "-X", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-c", loop],
        env={k: v for k, v in os.environ.items() if not k.startswith("PG")}
        | {"PGPASSWORD": password},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for pid in _postgres_processes(next(data_dir.rglob("postmaster.pid")).parent):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if title.rstrip().endswith(b" DO"):
                return client, pid
        time.sleep(0.05)
    client.kill()
    raise AssertionError("the busy backend did not show up")


def _write(
    client: httpx.Client, url: str, content: str, seen: list[int] | None = None
) -> str | None:
    """POST one message; its id if acknowledged (201), else None (the status added to seen)."""
    try:
        response = client.post(
            f"{url}{SESSION}/messages",
            json={"messages": [{"peer_id": "alice", "content": content}]},
        )
    except httpx.HTTPError:
        response = None
    if response is None or response.status_code != 201:
        if seen is not None:
            seen.append(0 if response is None else response.status_code)
        return None
    return str(response.json()[0]["id"])


def _read(client: httpx.Client, url: str, seen: list[int] | None = None) -> list[str] | None:
    """The ids of the session's messages, or None if the read failed (the status added to seen)."""
    try:
        response = client.post(f"{url}{SESSION}/messages/list", params={"size": 100})
    except httpx.HTTPError:
        response = None
    if response is None or response.status_code != 200:
        if seen is not None:
            seen.append(0 if response is None else response.status_code)
        return None
    return [str(m["id"]) for m in response.json()["items"]]


def test_killed_postmaster_is_restarted_and_api_recovers(tmp_path: Path, server_dir: Path) -> None:
    data_dir = server_dir / "data"
    log_path = tmp_path / "serve.log"
    process, url = start_server(_embedded_env(data_dir), log_path)
    stopped = False
    try:
        with httpx.Client(timeout=10) as client:
            acknowledged = [_write(client, url, f"before {i}") for i in range(20)]
            assert all(acknowledged), acknowledged
            before = _pidfile(data_dir)
            assert before is not None
            pid, port = before
            pgdata = next(data_dir.rglob("postmaster.pid")).parent
            busy_client, busy_pid = _busy_backend(data_dir, port)
            log_offset = log_path.stat().st_size

            killed_at = _kill(pid)

            seen: list[int] = []  # statuses of the failed requests (0: no answer)
            written: str | None = None
            listed: list[str] | None = None
            while time.monotonic() - killed_at < RECOVERY_LIMIT:
                written = written or _write(client, url, "after the kill", seen)
                listed = _read(client, url, seen) if written else None
                if written and listed is not None:
                    break
                time.sleep(0.2)
            recovered_in = time.monotonic() - killed_at
            print(
                f"\nrecovered {recovered_in:.2f} s after SIGKILL of postmaster {pid}; "
                f"failed requests meanwhile (0.2 s apart): {seen}"
            )
            assert written and listed is not None, (
                f"API did not recover within {RECOVERY_LIMIT} s of the kill\n"
                f"{log_path.read_text()[-4000:]}"
            )
            assert set(seen) <= {503}, seen  # while it is down: 503, never a 500 or a drop

            # Same data dir, same port (the pool's URL), a new postmaster.
            after = _pidfile(data_dir)
            assert after is not None and after[0] != pid and after[1] == port, (before, after)
            assert _state(busy_pid) in (None, "Z"), "the orphaned backend was not killed"
            assert busy_client.wait(timeout=10) != 0
            # Nothing acknowledged before the kill is lost; the new write is there too.
            assert set(acknowledged) | {written} <= set(listed)
            assert len(listed) == 21

            # Reads and writes keep working (every pooled connection was replaced).
            for i in range(10):
                assert _write(client, url, f"later {i}") is not None
            assert len(_read(client, url) or []) == 31

        # The supervisor's thread logs once its restart returns, which can be a moment after
        # the new postmaster already serves the API: wait for its line, bounded.
        deadline = time.monotonic() + 15
        while True:
            log = log_path.read_bytes()[log_offset:].decode(errors="replace")
            lines = [line for line in log.splitlines() if "honcho_server.db.embedded" in line]
            loud = [line for line in lines if " WARNING " in line or " ERROR " in line]
            if loud or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        print("\n".join(["supervisor log:", *lines]))
        assert len(loud) == 1, loud
        assert re.search(
            rf"\(pid {pid}\) died; restarted it on 127\.0\.0\.1:{port} \(pid \d+\) in [\d.]+ s "
            r"\([1-9]\d* orphaned process\(es\) of the dead server killed\)$",
            loud[0],
        )

        # SIGTERM stops serve cleanly, database included: nothing of the cluster is left.
        stopped = True
        assert stop_server(process) == 0
        assert _postgres_processes(pgdata) == []
        assert _pidfile(data_dir) is None
    finally:
        if not stopped:
            stop_server(process)
        for leftover in _postgres_processes(data_dir / "postgres" / "pgdata"):
            os.kill(leftover, signal.SIGKILL)  # e.g. the endless loop, had nobody killed it


def test_quiet_outage_and_failed_restarts(tmp_path: Path, server_dir: Path) -> None:
    """No request during the outage: the first one after the restart still succeeds (a pooled
    connection the dead server closed is discarded, not handed out). A restart that fails
    (the port is taken) is retried with backoff, logged once, and ends in one "back" line."""
    data_dir = server_dir / "data"
    log_path = tmp_path / "serve.log"
    env = _embedded_env(data_dir, EMBEDDED_WORKER="false")  # nothing else touches the pool
    process, url = start_server(env, log_path)
    try:
        with httpx.Client(timeout=10) as client:
            acknowledged = [_write(client, url, f"before {i}") for i in range(5)]
            assert all(acknowledged)
            before = _pidfile(data_dir)
            assert before is not None
            pid, port = before

            offset = log_path.stat().st_size
            _kill(pid)
            _wait_for_log(log_path, offset, rf"\(pid {pid}\) died; restarted it", 30)
            assert _write(client, url, "first after a quiet restart") is not None
            assert len(_read(client, url) or []) == 6

            # The port is taken while the server is down: the restart fails until it is free.
            pid = (_pidfile(data_dir) or (0, 0))[0]
            offset = log_path.stat().st_size
            blocker = socket.socket()
            blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as postgres does
            try:
                _kill(pid)
                blocker.bind(("127.0.0.1", port))
                blocker.listen()
                _wait_for_log(log_path, offset, r"could not be restarted", 30)
                time.sleep(2.5)  # two more tries (1 s, then 2 s later), neither of them logged
            finally:
                blocker.close()
            lines = _wait_for_log(log_path, offset, r"is back on", 30)
            print("\n".join(["supervisor log:", *lines]))
            assert len(lines) == 2, lines
            assert f"(pid {pid}) died and could not be restarted" in lines[0]
            assert f"127.0.0.1:{port} is taken" in lines[0]
            assert re.search(
                rf"\(pid {pid}\) is back on 127\.0\.0\.1:{port} .* after \d+ failed", lines[1]
            )
            deadline = time.monotonic() + 10
            while _write(client, url, "after the port came back") is None:
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert len(_read(client, url) or []) == 7
    finally:
        assert stop_server(process) == 0
    assert _pidfile(data_dir) is None
