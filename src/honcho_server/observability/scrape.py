"""``GET /metrics``: the process's counters plus values read at scrape time.

Read at scrape time, so they cost nothing between scrapes:

* the requests the process that answers is working on (this scrape included);
* the database pool of the process that answers (``checkedout()``, ``size()``);
* the queue: ONE grouped query over the jobs that are pending, running or failed, bounded
  by :data:`QUERY_TIMEOUT_SECONDS` (connecting included). If it fails or takes longer (the
  database is down, or every pooled connection stays busy that long), the scrape still
  answers 200 with ``honcho_database_up 0`` and without the queue gauges.

No key is needed, as for ``/health`` and ``/ready``: the answer holds no tenant data (route
templates, job kinds and LLM features only). Turn it off with ``METRICS_ENABLED=false``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from fastapi import APIRouter, Request, Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from ..queue import PAYLOADS
from ..settings import Settings
from .concurrency import Concurrency
from .metrics import MULTIPROC_ENV

QUERY_TIMEOUT_SECONDS = 2.0
# The classic text format (understood by every Prometheus; prometheus-client's newer default
# names version 1.0.0, which older servers do not know).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

STATES = {"todo": "pending", "doing": "running", "failed": "failed"}

_QUEUE = text(
    """
    SELECT kind, status, count(*) AS n,
           count(*) FILTER (WHERE scheduled_at <= now()) AS due,
           extract(epoch FROM now() - min(created_at)) AS oldest,
           extract(epoch FROM now() - min(scheduled_at) FILTER (WHERE scheduled_at <= now()))
             AS oldest_due
    FROM jobs WHERE status IN ('todo', 'doing', 'failed')
    GROUP BY kind, status
    """
)

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics_endpoint(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    concurrency: Concurrency | None = getattr(request.app, "concurrency", None)
    in_flight = None if concurrency is None else concurrency.now
    body = await render(request.app.state.engine, settings, in_flight=in_flight)
    return Response(body, media_type=CONTENT_TYPE)


@dataclass
class QueueRow:
    kind: str
    state: str
    jobs: int
    due: int
    oldest: float
    oldest_due: float


@dataclass(eq=False)  # registered in a registry: hashed by identity
class Snapshot(Collector):
    """What one scrape read: the pool, and the queue (None when the database did not answer)."""

    requests_in_flight: int | None = None
    pool_in_use: int | None = None
    pool_size: int | None = None
    pool_max: int | None = None
    queue: list[QueueRow] | None = None
    kinds: Iterable[str] = field(default_factory=lambda: PAYLOADS.keys())

    def collect(self) -> Iterator[Metric]:
        yield _gauge(
            "honcho_database_up",
            "1 when the scrape's queue query answered within 2 s, else 0.",
            1 if self.queue is not None else 0,
        )
        if self.requests_in_flight is not None:
            yield _gauge(
                "honcho_http_requests_in_flight",
                "Requests this process has received and not yet started answering (this "
                "scrape included): how many wait on it now.",
                self.requests_in_flight,
            )
        if self.pool_in_use is not None:
            yield _gauge(
                "honcho_db_pool_connections_in_use",
                "Connections of this process's pool lent out now.",
                self.pool_in_use,
            )
            yield _gauge(
                "honcho_db_pool_size",
                "Connections this process's pool keeps open (DB_POOL_SIZE).",
                self.pool_size or 0,
            )
            yield _gauge(
                "honcho_db_pool_max_connections",
                "Most connections this process's pool opens (DB_POOL_SIZE + DB_MAX_OVERFLOW).",
                self.pool_max or 0,
            )
        if self.queue is not None:
            yield from self._queue_families(self.queue)

    def _queue_families(self, rows: list[QueueRow]) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "honcho_queue_jobs",
            "Jobs by kind and state (pending, running, failed).",
            labels=["kind", "state"],
        )
        due = GaugeMetricFamily(
            "honcho_queue_due_jobs", "Pending jobs that are due now, by kind.", labels=["kind"]
        )
        oldest = GaugeMetricFamily(
            "honcho_queue_oldest_pending_age_seconds",
            "Age of the oldest pending job (since it was queued; due or not), by kind.",
            labels=["kind"],
        )
        waiting = GaugeMetricFamily(
            "honcho_queue_oldest_due_seconds",
            "How long the oldest due pending job has waited for a worker since it became due, "
            "by kind (0: none is due). The one to alert on.",
            labels=["kind"],
        )
        seen = {(r.kind, r.state): r for r in rows}
        for kind in sorted({*self.kinds, *(r.kind for r in rows)}):
            for state in STATES.values():
                row = seen.get((kind, state))
                jobs.add_metric([kind, state], row.jobs if row else 0)
            pending = seen.get((kind, "pending"))
            due.add_metric([kind], pending.due if pending else 0)
            oldest.add_metric([kind], pending.oldest if pending else 0)
            waiting.add_metric([kind], pending.oldest_due if pending else 0)
        yield from (jobs, due, oldest, waiting)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


async def read_queue(engine: AsyncEngine, within: float = QUERY_TIMEOUT_SECONDS) -> list[QueueRow]:
    """The grouped queue query, connecting included, within ``within`` seconds (TimeoutError
    otherwise). A pooled connection the database dropped (it restarted) is retried once."""
    async with asyncio.timeout(within):
        for attempt in (1, 2):
            try:
                async with engine.connect() as conn:
                    result = await conn.execute(_QUEUE)
                    return [
                        QueueRow(
                            kind=str(r.kind),
                            state=STATES[r.status],
                            jobs=int(r.n),
                            due=int(r.due) if r.status == "todo" else 0,
                            oldest=float(r.oldest or 0),
                            oldest_due=float(r.oldest_due or 0) if r.status == "todo" else 0.0,
                        )
                        for r in result
                    ]
            except DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise
    raise AssertionError("unreachable")  # pragma: no cover


async def snapshot(
    engine: AsyncEngine, settings: Settings, *, in_flight: int | None = None
) -> Snapshot:
    shot = Snapshot(requests_in_flight=in_flight)
    pool = engine.pool
    if isinstance(pool, QueuePool):
        shot.pool_in_use, shot.pool_size = pool.checkedout(), pool.size()
        shot.pool_max = settings.db_pool_size + settings.db_max_overflow
    try:
        shot.queue = await read_queue(engine)
    except Exception:  # down, refused, too slow: reported as honcho_database_up 0
        shot.queue = None
    return shot


async def render(engine: AsyncEngine, settings: Settings, *, in_flight: int | None = None) -> bytes:
    """The exposition text: the counters (of every process, in multiprocess mode), then the
    values read now."""
    counters: Collector = REGISTRY
    if os.environ.get(MULTIPROC_ENV):
        counters = CollectorRegistry()
        MultiProcessCollector(counters)  # type: ignore[no-untyped-call]
    now = CollectorRegistry(auto_describe=False)
    now.register(await snapshot(engine, settings, in_flight=in_flight))
    return generate_latest(counters) + generate_latest(now)
