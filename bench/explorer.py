"""Server time of every memory-explorer page on a session of 10,000 messages.

    .venv/bin/python bench/explorer.py                       # starts its own `serve`
    .venv/bin/python bench/explorer.py --url http://127.0.0.1:8000   # or times a running one

Seeds a fresh workspace through the REST API (one session of ``--messages`` messages from two
peers, ``--conclusions`` conclusions about one of them, peer cards), then requests each page
``--repeat`` times over loopback and prints the median and the slowest, in ms. The explorer's
budget is 300 ms per page (issue 15). Its own server runs with the embedded database in a
temporary directory, message embedding, deriver and summaries off (seeding stays quick; the
pages read the same tables either way). Client-side time over loopback: server time plus
well under a millisecond.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BUDGET_MS = 300.0


def start_server(port: int, data_dir: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HONCHO_DATA_DIR": data_dir,
        "LOG_LEVEL": "WARNING",
        "EMBED_MESSAGES": "false",
        "DERIVER_ENABLED": "false",
        "SUMMARY_ENABLED": "false",
        "ACCESS_LOG": "false",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "honcho_server", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("the server did not start")


def seed(client: httpx.Client, ws: str, messages: int, conclusions: int) -> tuple[str, str]:
    base = f"/v3/workspaces/{ws}"
    client.post("/v3/workspaces", json={"id": ws}).raise_for_status()
    client.post(f"{base}/sessions", json={"id": "big", "peers": {"alice": {}, "bot": {}}})
    batch = 100
    middle = ""
    for start in range(0, messages, batch):
        items = [
            {
                "peer_id": "alice" if i % 2 else "bot",
                "content": f"message {i}: a line about hiking, packing and the weather {i % 97}",
            }
            for i in range(start, min(start + batch, messages))
        ]
        made = client.post(f"{base}/sessions/big/messages", json={"messages": items})
        made.raise_for_status()
        if start == messages // 2 // batch * batch:
            middle = made.json()[0]["id"]
    for start in range(0, conclusions, 100):
        items = [
            {"content": f"alice fact {i}", "observer_id": "alice", "observed_id": "alice"}
            for i in range(start, min(start + 100, conclusions))
        ]
        client.post(f"{base}/conclusions", json={"conclusions": items}).raise_for_status()
    client.put(f"{base}/peers/alice/card", json={"peer_card": ["Hikes", "Lives in Lisbon"]})
    first = client.post(f"{base}/conclusions/list", json={}, params={"size": 1}).json()
    return middle, first["items"][0]["id"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server (default: start one)")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--conclusions", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    data_dir = process = None
    url = args.url
    if url is None:
        data_dir = tempfile.mkdtemp(prefix="explorer-bench-")
        port = 18000 + os.getpid() % 1000
        process = start_server(port, data_dir)
        url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            ws = f"bench-{uuid.uuid4().hex[:8]}"
            started = time.monotonic()
            middle, conclusion = seed(client, ws, args.messages, args.conclusions)
            print(f"seeded {args.messages} messages in {time.monotonic() - started:.0f} s")
            pages = {
                "overview": "/",
                "workspace": f"/ui/w/{ws}",
                "session (oldest page)": f"/ui/w/{ws}/s/big",
                "session (newest page)": f"/ui/w/{ws}/s/big?newest=true",
                "session (jump to middle)": f"/ui/w/{ws}/s/big?jump={middle}",
                "context preview 4000": f"/ui/w/{ws}/s/big/context?tokens=4000",
                "context preview 100000": f"/ui/w/{ws}/s/big/context?tokens=100000",
                "peer": f"/ui/w/{ws}/p/alice",
                "representation": f"/ui/w/{ws}/p/alice/representation",
                "provenance": f"/ui/w/{ws}/c/{conclusion}",
                "search": f"/ui/w/{ws}/search?q=weather+packing",
                "chat (form)": f"/ui/w/{ws}/chat",
                "docs": "/docs",
                "(API) context 100000": f"/v3/workspaces/{ws}/sessions/big/context?tokens=100000",
                "(API) context 4000": f"/v3/workspaces/{ws}/sessions/big/context?tokens=4000",
            }
            print(f"{'page':<28}{'median ms':>10}{'max ms':>10}")
            slow = []
            for name, path in pages.items():
                times = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    response = client.get(path)
                    times.append((time.perf_counter() - t) * 1000)
                    assert response.status_code == 200, (path, response.status_code)
                median = statistics.median(times)
                print(f"{name:<28}{median:>10.1f}{max(times):>10.1f}")
                if median > BUDGET_MS:
                    slow.append(name)
            print("over budget: " + (", ".join(slow) if slow else "none"))
            return 1 if slow else 0
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=60)
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
