"""Load benchmark against a running server: throughput, latency and errors per scenario.

    .venv/bin/python bench/load.py --url http://127.0.0.1:8000 --clients 1 8 64 --seconds 10

Scenarios: ingest (add 1 message), ingest-batch (add 20 messages), list (a page of 50
messages), get-or-create (peer + session get-or-create), message-get. Each client loops
for ``--seconds``; the run is bounded in time and only talks to the given (loopback) URL.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

Step = Callable[[httpx.AsyncClient, int, int], Awaitable[httpx.Response]]


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


def scenarios(ws: str) -> dict[str, Step]:
    base = f"/v3/workspaces/{ws}"

    def ingest(c: httpx.AsyncClient, client: int, i: int) -> Awaitable[httpx.Response]:
        body = {"messages": [{"peer_id": f"user{client}", "content": f"message {i} from {client}"}]}
        return c.post(f"{base}/sessions/s{client % 8}/messages", json=body)

    def ingest_batch(c: httpx.AsyncClient, client: int, i: int) -> Awaitable[httpx.Response]:
        msgs = [
            {"peer_id": f"user{k % 2}", "content": f"batch {i} item {k} " * 5} for k in range(20)
        ]
        return c.post(f"{base}/sessions/b{client}/messages", json={"messages": msgs})

    def listing(c: httpx.AsyncClient, client: int, i: int) -> Awaitable[httpx.Response]:
        return c.post(f"{base}/sessions/s{client % 8}/messages/list?size=50&reverse=true", json={})

    def get_or_create(c: httpx.AsyncClient, client: int, i: int) -> Awaitable[httpx.Response]:
        if i % 2:
            return c.post(f"{base}/peers", json={"id": f"user{client}"})
        return c.post(f"{base}/sessions", json={"id": f"s{client % 8}"})

    return {
        "ingest": ingest,
        "ingest-batch20": ingest_batch,
        "list": listing,
        "get-or-create": get_or_create,
    }


async def run(url: str, name: str, step: Step, clients: int, seconds: float) -> Result:
    result = Result()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as c:
        deadline = time.perf_counter() + seconds

        async def worker(client: int) -> None:
            i = 0
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    r = await step(c, client, i)
                    result.statuses[r.status_code] = result.statuses.get(r.status_code, 0) + 1
                    if r.status_code >= 400:
                        result.errors += 1
                except httpx.HTTPError:
                    result.errors += 1
                result.latencies.append(time.perf_counter() - start)
                i += 1

        await asyncio.gather(*(worker(k) for k in range(clients)))
    return result


def report(name: str, clients: int, seconds: float, r: Result) -> None:
    lat = sorted(r.latencies) or [0.0]
    p50 = statistics.median(lat) * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    print(
        f"{name:16} clients={clients:3}  {len(r.latencies) / seconds:8.1f} req/s  "
        f"p50={p50:7.1f} ms  p99={p99:7.1f} ms  errors={r.errors}  statuses={r.statuses}",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    ws = f"bench-{uuid.uuid4().hex[:8]}"
    steps = scenarios(ws)
    for name in args.only or list(steps):
        for clients in args.clients:
            report(
                name,
                clients,
                args.seconds,
                await run(args.url, name, steps[name], clients, args.seconds),
            )


if __name__ == "__main__":
    asyncio.run(main())
