"""Load benchmark: throughput, latency and errors per scenario, driven by ``wrk``.

    apt-get install wrk        # Debian/Ubuntu; the load generator (a Python client saturates first)
    .venv/bin/python bench/load.py --url http://127.0.0.1:8000 --clients 1 8 64 --seconds 10

Scenarios (all in a fresh workspace, seeded first): ``ingest`` (1 message per request,
8 sessions), ``ingest-batch20`` (20 messages per request), ``list`` (newest page of 50 from a
session of 10,000 messages), ``context`` (a 4,000-token context of that session),
``get-or-create`` (peer / session get-or-create, alternating), ``message-get``.
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
  return wrk.format("GET", "{base}/sessions/big/context?tokens=4000")
end
""",
    "message-get": """
request = function()
  return wrk.format("GET", "{base}/sessions/big/messages/{message_id}")
end
""",
}

COMMON = """
HEADERS = {["Content-Type"] = "application/json"}
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


def post(url: str, body: object) -> object:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


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
        f.write(COMMON + script)
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
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench/load.py needs wrk (apt-get install wrk)")
    base = f"/v3/workspaces/bench-{uuid.uuid4().hex[:8]}"
    message_id = seed(args.url, base)
    print(f"server {args.url}  workspace {base.rsplit('/', 1)[1]}", flush=True)
    for name in args.only or list(LUA):
        script = LUA[name].replace("{base}", base).replace("{message_id}", message_id)
        for clients in args.clients:
            print(
                f"{name:15} clients={clients:3}  {run(args.url, script, clients, args.seconds)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
