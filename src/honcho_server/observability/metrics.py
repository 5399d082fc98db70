"""Prometheus metrics: their definitions and the one-line hooks the rest of the code calls.

Counters and histograms live in prometheus-client's process-wide registry, so the worker
running inside ``serve`` reports through the API's ``/metrics``. A separate ``honcho-server
worker`` process has its own counters: ``WORKER_METRICS_PORT`` serves them on a port of its
own (:func:`serve_worker_metrics`). ``serve --workers N`` (N > 1) shares them between its
processes through prometheus-client's multiprocess mode (:func:`share_between_processes`).

Hooks (each costs a dictionary lookup and a few atomic additions):

* :func:`http_request` — from the request middleware.
* :func:`job_finished` — from the worker runner, once per job attempt.
* :func:`llm_call` / :func:`llm_stream` — decorators on the LLM client's request methods.
* :func:`embedding_call` — decorator on each embedder's ``embed``.

Values read at scrape time (pool, queue, database) are in :mod:`.scrape`.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import shutil
import tempfile
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from typing import Any, TypeVar, cast

from prometheus_client import Counter, Histogram, disable_created_metrics, start_http_server

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# No `_created` series next to each counter and histogram: Prometheus ignores them in the
# text format, and they would double the size of every scrape.
disable_created_metrics()  # type: ignore[no-untyped-call]

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
LLM_BUCKETS = (0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)
EMBED_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

HTTP_REQUESTS = Counter(
    "honcho_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "honcho_http_request_duration_seconds",
    "Time from the request's arrival to the last byte of its response (streams included).",
    ["method", "route", "status"],
    buckets=HTTP_BUCKETS,
)
JOBS = Counter(
    "honcho_jobs",
    "Job attempts finished, by kind and outcome (succeeded, retried, failed, superseded, "
    "waited, released).",
    ["kind", "outcome"],
)
JOB_DURATION = Histogram(
    "honcho_job_duration_seconds",
    "Time a job attempt ran, by kind and outcome.",
    ["kind", "outcome"],
    buckets=JOB_BUCKETS,
)
JOBS_RECOVERED = Counter(
    "honcho_jobs_recovered",
    "Jobs taken back from workers that stopped responding, by where they went (todo, "
    "superseded, failed).",
    ["state"],
)
LLM_REQUESTS = Counter(
    "honcho_llm_requests",
    "LLM requests made (the client's own retries included in one), by feature.",
    ["feature"],
)
LLM_ERRORS = Counter(
    "honcho_llm_errors",
    "LLM requests that failed, by feature and error class.",
    ["feature", "error"],
)
LLM_TOKENS = Counter(
    "honcho_llm_tokens",
    "Tokens the LLM endpoint reported, by feature and type (prompt, completion).",
    ["feature", "type"],
)
LLM_DURATION = Histogram(
    "honcho_llm_request_duration_seconds",
    "Time an LLM request took (a stream: until its last piece), by feature.",
    ["feature"],
    buckets=LLM_BUCKETS,
)
EMBEDDING_TEXTS = Counter(
    "honcho_embedding_texts",
    "Texts embedded, by work (foreground: a query someone waits for; background: jobs).",
    ["work"],
)
EMBEDDING_DURATION = Histogram(
    "honcho_embedding_duration_seconds",
    "Time one embed call took, by work (texts per second: rate of texts / rate of _sum).",
    ["work"],
    buckets=EMBED_BUCKETS,
)
EMBEDDING_ERRORS = Counter(
    "honcho_embedding_errors",
    "Embed calls that failed, by work and error class.",
    ["work", "error"],
)

# ---- HTTP (the hot path) --------------------------------------------------------------------

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_http_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def http_request(method: str, route: str, status: int, seconds: float) -> None:
    """One answered request. ``route`` is a template (bounded), never a raw path."""
    key = (method if method in _METHODS else "other", route, status)
    children = _http_children.get(key)
    if children is None:  # first time for this combination: resolve the labelled children once
        labels = (key[0], route, str(status))
        children = (HTTP_REQUESTS.labels(*labels), HTTP_DURATION.labels(*labels))
        _http_children[key] = children
    children[0].inc()
    children[1].observe(seconds)


# ---- jobs -----------------------------------------------------------------------------------


def job_recovered(state: str) -> None:
    """A dead worker's job was recovered by the stale sweep and went to ``state``."""
    JOBS_RECOVERED.labels(state).inc()


def job_finished(kind: str, outcome: str, seconds: float) -> None:
    """One job attempt ended: ``succeeded``, ``retried`` (failed, runs again), ``failed``
    (for good), ``superseded`` (a waiting twin does its work), ``waited`` (a dependency is
    down: back to the queue, no attempt spent) or ``released`` (shutdown)."""
    JOBS.labels(kind, outcome).inc()
    JOB_DURATION.labels(kind, outcome).observe(seconds)


# ---- LLM ------------------------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
G = TypeVar("G", bound=Callable[..., AsyncGenerator[Any, None]])


def _feature(client: Any) -> str:
    return str(getattr(getattr(client, "config", None), "feature", "unknown"))


def _count_usage(feature: str, usage: Any) -> None:
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    if prompt:
        LLM_TOKENS.labels(feature, "prompt").inc(prompt)
    if completion:
        LLM_TOKENS.labels(feature, "completion").inc(completion)


def _llm_done(feature: str, started: float, usage: Any, error: BaseException | None) -> None:
    LLM_REQUESTS.labels(feature).inc()
    LLM_DURATION.labels(feature).observe(time.perf_counter() - started)
    _count_usage(feature, usage)
    if error is not None:
        LLM_ERRORS.labels(feature, type(error).__name__).inc()


def llm_call(method: F) -> F:
    """Decorates an LLM client method ``(self, ...) -> Reply``: one request, its latency, the
    tokens of its ``usage`` (also of an error that carries one) and its error class."""

    @functools.wraps(method)
    async def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            reply = await method(self, *args, **kwargs)
        except Exception as exc:
            _llm_done(_feature(self), started, getattr(exc, "usage", None), exc)
            raise
        _llm_done(_feature(self), started, getattr(reply, "usage", None), None)
        return reply

    return cast(F, timed)


def llm_stream(method: G) -> G:
    """Decorates an LLM client's streaming generator ``(self, stream, ...)``: timed until the
    stream ends; tokens from ``stream.usage`` (set by the generator as the answer arrives).
    A stream abandoned by its reader counts as a request without an error."""

    @functools.wraps(method)
    async def timed(self: Any, stream: Any, *args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            async with aclosing(method(self, stream, *args, **kwargs)) as pieces:
                async for piece in pieces:
                    yield piece
        except Exception as exc:
            error = exc
            raise
        finally:
            _llm_done(_feature(self), started, getattr(stream, "usage", None), error)

    return cast(G, timed)


# ---- embeddings -----------------------------------------------------------------------------


def embedding_call(method: F) -> F:
    """Decorates ``Embedder.embed(self, texts, *, background=False)``: texts, time, errors."""

    @functools.wraps(method)
    async def timed(self: Any, texts: Sequence[str], *args: Any, **kwargs: Any) -> Any:
        work = "background" if kwargs.get("background") else "foreground"
        started = time.perf_counter()
        try:
            vectors = await method(self, texts, *args, **kwargs)
        except Exception as exc:
            EMBEDDING_ERRORS.labels(work, type(exc).__name__).inc()
            raise
        if texts:
            EMBEDDING_DURATION.labels(work).observe(time.perf_counter() - started)
            EMBEDDING_TEXTS.labels(work).inc(len(texts))
        return vectors

    return cast(F, timed)


# ---- processes ------------------------------------------------------------------------------


def share_between_processes() -> None:
    """Before ``serve --workers N`` spawns its processes: a fresh directory for
    prometheus-client's multiprocess mode (removed at exit), so any process's ``/metrics``
    adds up the counters of all of them. A ``PROMETHEUS_MULTIPROC_DIR`` already set wins."""
    if os.environ.get(MULTIPROC_ENV):
        return
    path = tempfile.mkdtemp(prefix="honcho-metrics-")
    os.environ[MULTIPROC_ENV] = path
    atexit.register(shutil.rmtree, path, ignore_errors=True)


def serve_worker_metrics(port: int | None, host: str = "127.0.0.1") -> None:
    """``honcho-server worker`` with ``WORKER_METRICS_PORT``: its counters on that port."""
    if port is None:
        return
    start_http_server(port, addr=host)
    log.info("worker metrics on http://%s:%d/metrics", host, port)
