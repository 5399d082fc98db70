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
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

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


def settle(url: str, timeout: float = 900) -> None:
    """Wait until the embedding backlog the seed created is done (``GET /status``)."""
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


def seed(url: str, base: str) -> str:
    """A session ``big`` with 10,000 messages; returns one message id from it."""
    first = None
    for i in range(100):
        msgs = [{"peer_id": f"user{k % 4}", "content": f"seed {i}-{k} " * 8} for k in range(100)]
        created = post(f"{url}{base}/sessions/big/messages", {"messages": msgs})
        assert isinstance(created, list)
        first = first or created[0]["id"]
    assert first is not None
    return str(first)


def run(url: str, script: str, clients: int, seconds: float) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        auth = f', ["Authorization"] = "Bearer {API_KEY}"' if API_KEY else ""
        f.write(COMMON.replace("{auth}", auth) + script)
    threads = min(2, clients)
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
    Path(f.name).unlink()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", out)
    if not rps or not result:
        return "wrk failed: " + out[-500:]
    total, errors, p50, p99, worst = result.groups()
    return (
        f"{float(rps.group(1)):9.1f} req/s  p50={float(p50):7.1f} ms  p99={float(p99):7.1f} ms  "
        f"max={float(worst):7.1f} ms  requests={total}  errors={errors}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--api-key", default=None, help="a key for a server with auth on")
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
    print(f"server {args.url}  workspace {base.rsplit('/', 1)[1]}", flush=True)
    for name in args.only or list(LUA):
        if args.settle:
            settle(args.url)
        script = LUA[name].replace("{base}", base).replace("{message_id}", message_id)
        for clients in args.clients:
            print(
                f"{name:15} clients={clients:3}  {run(args.url, script, clients, args.seconds)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
