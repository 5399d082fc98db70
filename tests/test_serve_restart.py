"""`honcho-server serve` on the embedded default: starts with no configuration, keeps data
across restarts, and stops its PostgreSQL when it is stopped."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx

from servers import start_server, stop_server


def _embedded_env(data_dir: Path) -> dict[str, str]:
    env = {"HONCHO_DATA_DIR": str(data_dir), "LOG_LEVEL": "INFO"}
    for key in ("DATABASE_URL", "DB_CONNECTION_URI"):
        os.environ.pop(key, None)  # the embedded default: no database configured at all
    return env


def _postmaster_pid(data_dir: Path) -> int | None:
    pid_files = list(data_dir.rglob("postmaster.pid"))
    if not pid_files:
        return None
    return int(pid_files[0].read_text().splitlines()[0])


def _alive(pid: int, grace: float = 5.0) -> bool:
    """Whether ``pid`` is still a running process after ``grace`` seconds (zombies are dead)."""
    deadline = time.monotonic() + grace
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        if state == "Z" or time.monotonic() > deadline:
            return state != "Z"
        time.sleep(0.1)


def test_data_survives_restart_and_postgres_stops(tmp_path: Path, server_dir: Path) -> None:
    data_dir = server_dir / "data"
    env = _embedded_env(data_dir)

    process, url = start_server(env, tmp_path / "first.log")
    try:
        created = httpx.post(
            f"{url}/v3/workspaces/restart-ws/sessions/s/messages",
            json={"messages": [{"peer_id": "alice", "content": "remember me"}]},
        )
        assert created.status_code == 201
        pg_pid = _postmaster_pid(data_dir)
        assert pg_pid is not None and _alive(pg_pid, grace=0)
    finally:
        assert stop_server(process) == 0
    assert not _alive(pg_pid), "embedded PostgreSQL kept running after the server stopped"

    process, url = start_server(env, tmp_path / "second.log")
    try:
        listed = httpx.post(f"{url}/v3/workspaces/restart-ws/sessions/s/messages/list")
        assert listed.status_code == 200
        assert [m["content"] for m in listed.json()["items"]] == ["remember me"]
        assert listed.json()["items"][0]["id"] == created.json()[0]["id"]
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C stops it cleanly too
        assert process.wait(timeout=30) == 0
    assert _postmaster_pid(data_dir) is None or not _alive(_postmaster_pid(data_dir) or 0)
