"""The load matrix for one or more source trees, each on a server of its own, one after another.

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/matrix.py --tree before=/tmp/before --tree after=. \
        --clients 1 16 64 --seconds 5

For each tree: a fresh embedded database in a temporary data dir, ``honcho-server serve`` run
from that tree's ``src`` (``PYTHONPATH``) with this venv's packages and the README's default
settings (local embeddings on, the in-process worker, no LLM), then ``bench/load.py``'s
scenarios against it with ``--settle`` (each scenario starts once the embedding backlog of the
earlier ones is done), then the server is stopped. Run it on an otherwise idle machine: the
trees are measured one after another, so anything else running skews one against the other.
``--env KEY=VALUE`` applies to every server (e.g. ``EMBED_MESSAGES=false``); ``--keep-logs
DIR`` keeps each server's log (its access log has every request's duration).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited with {process.returncode} before answering")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"no answer from {url}/health within {timeout:.0f} s")


def measure(label: str, tree: Path, args: argparse.Namespace) -> None:
    data = Path(tempfile.mkdtemp(prefix=f"matrix-{label}-"))
    data.chmod(0o711)  # the embedded server's own user traverses it when run as root
    port = _free_port()
    env = {**os.environ, "HONCHO_DATA_DIR": str(data), "PYTHONPATH": str(tree / "src")}
    env.update(dict(item.split("=", 1) for item in args.env))
    log = (data / "server.log").open("wb")
    command = [sys.executable, "-m", "honcho_server", "serve", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server)
        load = [sys.executable, str(HERE / "load.py"), "--url", url, "--settle"]
        load += ["--seconds", str(args.seconds), "--clients", *map(str, args.clients)]
        if args.only:
            load += ["--only", *args.only]
        print(f"== {label}: {tree} (server pid {server.pid})", flush=True)
        out = subprocess.run(load, capture_output=True, text=True, check=False)
        for line in out.stdout.splitlines():
            print(f"{label:>8} {line}", flush=True)
        if out.returncode != 0:
            print(out.stderr[-2000:], flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        if args.keep_logs is not None:  # the access log: per-request durations to look into
            args.keep_logs.mkdir(parents=True, exist_ok=True)
            shutil.copy(data / "server.log", args.keep_logs / f"{label}.server.log")
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", action="append", required=True, help="LABEL=PATH")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for every server")
    parser.add_argument(
        "--keep-logs", type=Path, default=None, help="copy server logs to DIR/LABEL.server.log"
    )
    args = parser.parse_args()
    for item in args.tree:
        label, _, path = item.partition("=")
        measure(label, Path(path).resolve(), args)


if __name__ == "__main__":
    main()
