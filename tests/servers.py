"""Run the real ``honcho-server serve`` CLI as a subprocess for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(base_url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early with code {process.returncode}")
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {base_url} did not become healthy in {timeout}s")


def start_server(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Run ``honcho-server serve`` (the real CLI) on a free port; returns (process, base URL)."""
    port = free_port()
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "honcho_server", "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url, process)
    except RuntimeError as exc:
        process.kill()
        raise RuntimeError(f"{exc}\n{log_path.read_text()[-4000:]}") from exc
    return process, base_url


def stop_server(process: subprocess.Popen[bytes]) -> int:
    process.terminate()
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


# ---- for fault tests: fixed ports, extra workers, restarts ----------------------------------


def spawn(
    args: Sequence[str], env: dict[str, str], log_path: Path, unset: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """Run ``honcho-server <args>`` (the real CLI), its output appended to ``log_path``; the
    test's environment plus ``env``, minus ``unset``."""
    full = {**os.environ, **env}
    for name in unset:
        full.pop(name, None)
    log = log_path.open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "honcho_server", *args],
            env=full,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    finally:
        log.close()  # the child has its own copy


def start_server_on(
    port: int,
    env: dict[str, str],
    log_path: Path,
    timeout: float = 60,
    unset: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    """``honcho-server serve`` on ``port`` (e.g. the same one again after a kill), healthy."""
    process = spawn(["serve", "--port", str(port)], env, log_path, unset)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process, timeout)
    except RuntimeError as exc:
        process.kill()
        process.wait()
        raise RuntimeError(f"{exc}\n{log_path.read_text(errors='replace')[-4000:]}") from exc
    return process


def start_worker(
    env: dict[str, str], log_path: Path, unset: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """``honcho-server worker``: a worker alone (it needs ``DATABASE_URL`` in ``env``)."""
    return spawn(["worker"], env, log_path, unset)
