"""Load benchmark: throughput, latency and errors per scenario, driven by ``wrk``.

    apt-get install wrk        # Debian/Ubuntu; the load generator (a Python client saturates first)
    .venv/bin/python bench/load.py --url http://127.0.0.1:8000 --clients 1 8 64 --seconds 10

Scenarios (all in a fresh workspace, seeded first): ``ingest`` (1 message per request,
8 sessions), ``ingest-batch20`` (20 messages per request), ``list`` (newest page of 50 from a
session of 10,000 messages), ``context`` (a 4,000-token context of that session),
``get-or-create`` (peer / session get-or-create, alternating), ``message-get``, ``search``
(workspace message search), ``agent-loop`` (what a chat agent does each turn: store the
user's message, read a 2,000-token context, store the reply; one "request" is one of the
three). ``--api-key`` sends ``Authorization: Bearer`` (a server with ``AUTH_USE_AUTH=true``).
Each run is bounded by ``--seconds`` and only talks to the given loopback URL.

CPU per operation: the server process's CPU over the timed window divided by the requests
served, split into its normal-priority threads (the request path, the event loop and the
in-process worker's queue work), its niced background threads (local embeddings) and the
Postgres processes it runs (the embedded database). It needs ``psutil`` and a server on this
machine (``--server-pid``, or found by its listening port). These numbers stay meaningful on
a machine shared with other work, where throughput does not. ``context-2k`` and
``context-whole`` (a 2,300-message session, whole) are the two ends of session context.
Statements per request are counted in process by ``bench/sqlcount.py``.

Each run starts once the server has answered every request of the run before
(``honcho_http_requests_in_flight`` in ``/metrics``): at 64 clients it may still be working on
dozens when ``wrk`` stops, which would slow the next run's start and count in its CPU. Then
it waits until the server and its Postgres are idle (autovacuum after a scenario that wrote
thousands of rows runs for up to a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

LUA = {
    "ingest": """
counter = 0
request = function()
  counter = counter + 1
  local body = '{"messages":[{"peer_id":"user' .. (counter % 16) .. '","content":"message '
    .. counter .. ' about hiking in the alps and what to pack"}]}'
  return wrk.format("POST", "{base}/sessions/s" .. (counter % 8) .. "/messages", HEADERS, body)
end
""",
    "ingest-batch20": """
counter = 0
local items = {}
for k = 1, 20 do
  items[k] = '{"peer_id":"user' .. (k % 2) .. '","content":"batch item ' .. k
    .. ' with a sentence of ordinary length to count tokens for"}'
end
local body = '{"messages":[' .. table.concat(items, ",") .. ']}'
request = function()
  counter = counter + 1
  return wrk.format("POST", "{base}/sessions/b" .. (counter % 8) .. "/messages", HEADERS, body)
end
""",
    "list": """
request = function()
  return wrk.format("POST", "{base}/sessions/big/messages/list?size=50&reverse=true", HEADERS, "{}")
end
""",
    "get-or-create": """
counter = 0
request = function()
  counter = counter + 1
  if counter % 2 == 0 then
    return wrk.format("POST", "{base}/peers", HEADERS, '{"id":"user' .. (counter % 16) .. '"}')
  end
  return wrk.format("POST", "{base}/sessions", HEADERS, '{"id":"s' .. (counter % 8) .. '"}')
end
""",
    "context": """
request = function()
  return wrk.format("GET", "{base}/sessions/big/context?tokens=4000", HEADERS)
end
""",
    "context-2k": """
request = function()
  return wrk.format("GET", "{base}/sessions/big/context?tokens=2000", HEADERS)
end
""",
    "context-whole": """
request = function()
  return wrk.format("GET", "{base}/sessions/whole/context", HEADERS)
end
""",
    "search": """
counter = 0
local queries = {"hiking in the alps", "what to pack", "seed 42", "ordinary length sentence"}
request = function()
  counter = counter + 1
  local body = '{"query":"' .. queries[counter % 4 + 1] .. '","limit":10}'
  return wrk.format("POST", "{base}/search", HEADERS, body)
end
""",
    "agent-loop": """
counter = 0
request = function()
  counter = counter + 1
  local turn = math.floor(counter / 3)
  local session = "agent" .. (turn % 16)
  local step = counter % 3
  if step == 0 then
    local body = '{"messages":[{"peer_id":"user' .. (turn % 16) .. '","content":"turn '
      .. turn .. ': can you suggest a trail for this weekend?"}]}'
    return wrk.format("POST", "{base}/sessions/" .. session .. "/messages", HEADERS, body)
  elseif step == 1 then
    return wrk.format("GET", "{base}/sessions/" .. session .. "/context?tokens=2000", HEADERS)
  end
  local body = '{"messages":[{"peer_id":"assistant","content":"turn ' .. turn
    .. ': the ridge loop is lovely this time of year, pack layers."}]}'
  return wrk.format("POST", "{base}/sessions/" .. session .. "/messages", HEADERS, body)
end
""",
    "message-get": """
request = function()
  return wrk.format("GET", "{base}/sessions/big/messages/{message_id}", HEADERS)
end
""",
}

COMMON = """
HEADERS = {["Content-Type"] = "application/json"{auth}}
errors = 0
response = function(status, headers, body)
  if status >= 400 then errors = errors + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.3f %.3f %.3f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""


API_KEY: str | None = None


def post(url: str, body: object) -> object:
    headers = {"Content-Type": "application/json"}
    if API_KEY:
        headers["Authorization"] = f"Bearer {API_KEY}"
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


def drain(url: str, timeout: float = 120) -> None:
    """Wait until the server has answered every request of the run before: ``wrk`` stops
    at its deadline, but at 64 clients the server may still be working on dozens (whole
    contexts: a second of work), which would slow the next run's first second and count in
    its CPU per request."""
    deadline = time.monotonic() + timeout
    while _in_flight(url) > 1 and time.monotonic() < deadline:  # 1: this scrape
        time.sleep(0.1)


def settle(url: str, timeout: float = 900) -> None:
    """Wait until the embedding backlog is done (``GET /status``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        req = urllib.request.Request(f"{url}/status")
        if API_KEY:
            req.add_header("Authorization", f"Bearer {API_KEY}")
        with urllib.request.urlopen(req, timeout=30) as r:
            kinds = json.load(r)["queue"]["by_kind"]
        embedding = kinds.get("embed_messages", {})
        if not embedding.get("todo", 0) and not embedding.get("doing", 0):
            return
        time.sleep(2)
    print("warning: the embedding backlog did not finish", flush=True)


def quiet(meter: CpuMeter | None, timeout: float = 180, busy: float = 0.1) -> None:
    """Wait until the server and its Postgres are idle: under ``busy`` CPU seconds in a
    second. After a scenario that wrote thousands of rows, Postgres's autovacuum works on
    them for up to a minute (a whole core on the embeddings' vector index); measured during
    the next scenario, that work would count as the next scenario's cost and slow it."""
    if meter is None:
        return
    start = time.monotonic()
    last = sum(meter.sample())
    while time.monotonic() < start + timeout:
        time.sleep(1)
        now = sum(meter.sample())
        if now - last < busy:
            if time.monotonic() - start > 3:
                print(f"(waited {time.monotonic() - start:.0f} s for an idle server)", flush=True)
            return
        last = now
    print(f"warning: the server was still busy after {timeout:.0f} s", flush=True)


def _in_flight(url: str) -> float:
    """``honcho_http_requests_in_flight`` from ``/metrics`` (0 when metrics are off)."""
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=30) as r:
            text = r.read().decode()
    except urllib.error.HTTPError:
        return 0.0
    found = re.search(r"^honcho_http_requests_in_flight (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def seed(url: str, base: str) -> str:
    """A session ``big`` with 10,000 messages, and ``whole`` with 2,300 (about 600 KB of
    context JSON, all of it within the default budget); returns one message id of ``big``."""
    first = None
    for i in range(100):
        msgs = [{"peer_id": f"user{k % 4}", "content": f"seed {i}-{k} " * 8} for k in range(100)]
        created = post(f"{url}{base}/sessions/big/messages", {"messages": msgs})
        assert isinstance(created, list)
        first = first or created[0]["id"]
    for i in range(23):
        msgs = [
            {"peer_id": f"user{k % 2}", "content": f"turn {i}-{k}: " + "words of a chat " * 10}
            for k in range(100)
        ]
        post(f"{url}{base}/sessions/whole/messages", {"messages": msgs})
    assert first is not None
    return str(first)


def _listening_pid(url: str) -> int | None:
    """The process serving ``url`` (the one listening on its port), if this user can see it."""
    import psutil

    port = urllib.parse.urlsplit(url).port or 80
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return int(conn.pid)
    return None


class CpuMeter:
    """CPU seconds of the server process (split into its normal-priority threads, which
    serve requests, and its niced background threads: local embeddings) and of the
    Postgres processes under it (the embedded database), from /proc."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.tick = float(os.sysconf("SC_CLK_TCK"))
        self.postmaster: Any = None

    def _niced(self) -> float:
        total = 0.0
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # after the ")": state is field 3, so utime/stime/nice (14/15/19) sit at 11/12/16
            if int(fields[16]) > 0:
                total += (int(fields[11]) + int(fields[12])) / self.tick
        return total

    def _postgres(self) -> float:
        """The Postgres server the process is connected to, with all its processes, if it
        runs on this machine (the embedded one is not a child of the server process)."""
        import psutil

        if self.postmaster is None:
            ports = {c.raddr.port for c in self.process.net_connections("tcp") if c.raddr}
            # the embedded database over its unix socket (the default): the server holds its
            # data dir's users lock open, whose ``port`` file names the postmaster's TCP port
            for f in self.process.open_files():
                port_file = Path(f.path).with_name("port")
                if f.path.endswith("/.users.lock") and port_file.exists():
                    ports.add(int(port_file.read_text()))
            for conn in psutil.net_connections("tcp"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr.port in ports and conn.pid:
                    proc = psutil.Process(conn.pid)
                    if proc.name().startswith("postgres"):
                        self.postmaster = proc
                        break
        if self.postmaster is None:
            return 0.0
        # the postmaster, the backends it has reaped (children_*: their CPU would otherwise
        # vanish from the sum when a connection closes) and the live ones
        t = self.postmaster.cpu_times()
        total = float(t.user + t.system + t.children_user + t.children_system)
        for proc in self.postmaster.children(recursive=True):
            try:
                t = proc.cpu_times()
                total += t.user + t.system
            except Exception:  # a backend that ended meanwhile
                continue
        return total

    def sample(self) -> tuple[float, float, float]:
        t = self.process.cpu_times()
        whole = t.user + t.system
        niced = self._niced()
        return whole - niced, niced, self._postgres()


def run(url: str, script: str, clients: int, seconds: float, meter: CpuMeter | None = None) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        auth = f', ["Authorization"] = "Bearer {API_KEY}"' if API_KEY else ""
        f.write(COMMON.replace("{auth}", auth) + script)
    threads = min(2, clients)
    before = meter.sample() if meter else None
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{clients}",
            f"-d{int(seconds)}s",
            "--timeout",
            "30s",
            "-s",
            f.name,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    after = meter.sample() if meter else None
    Path(f.name).unlink()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", out)
    if not rps or not result:
        return "wrk failed: " + out[-500:]
    total, errors, p50, p99, worst = result.groups()
    line = (
        f"{float(rps.group(1)):9.1f} req/s  p50={float(p50):7.1f} ms  p99={float(p99):7.1f} ms  "
        f"max={float(worst):7.1f} ms  requests={total}  errors={errors}"
    )
    if before is not None and after is not None and int(total):
        ms = [(b - a) * 1000 / int(total) for a, b in zip(before, after, strict=True)]
        line += f"  server_cpu={ms[0]:.2f} ms/op  niced={ms[1]:.2f}  postgres={ms[2]:.2f}"
    return line


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--api-key", default=None, help="a key for a server with auth on")
    parser.add_argument(
        "--server-pid",
        type=int,
        default=None,
        help="the server process to measure CPU of (default: the one listening on --url's port)",
    )
    parser.add_argument(
        "--settle",
        action="store_true",
        help="before each scenario, wait until the embeddings queued so far are done (else the "
        "backlog of earlier scenarios runs during later ones)",
    )
    args = parser.parse_args()
    global API_KEY
    API_KEY = args.api_key
    if shutil.which("wrk") is None:
        sys.exit("bench/load.py needs wrk (apt-get install wrk)")
    base = f"/v3/workspaces/bench-{uuid.uuid4().hex[:8]}"
    message_id = seed(args.url, base)
    pid = args.server_pid or _listening_pid(args.url)
    meter = CpuMeter(pid) if pid else None
    print(f"server {args.url} (pid {pid})  workspace {base.rsplit('/', 1)[1]}", flush=True)
    for name in args.only or list(LUA):
        script = LUA[name].replace("{base}", base).replace("{message_id}", message_id)
        for i, clients in enumerate(args.clients):
            drain(args.url)  # first: what is still being answered may queue embeddings
            if args.settle and i == 0:
                settle(args.url)
            quiet(meter)  # last: settling and draining leave autovacuum's work behind
            result = run(args.url, script, clients, args.seconds, meter)
            print(f"{name:15} clients={clients:3}  {result}", flush=True)


if __name__ == "__main__":
    main()
