"""Which job kinds a worker may claim now.

A kind needs an LLM feature or the embedder (``JobPayload.needs``). A worker does not claim
a kind whose dependency it lacks (no model configured for the feature) or believes down, so
those jobs simply wait in ``todo``: no claims, no attempts spent, no log line per job, and
other kinds are never delayed by them.

"Down" is a circuit breaker per endpoint (features sharing an endpoint share it): a job
that finds the endpoint unreachable, timing out or answering 429/5xx opens it. While open,
no job needing it is claimed; after a cool-down (doubling, capped) one job is let through as
the probe: if the endpoint answers, the breaker closes and the backlog drains by itself; if
not, it stays open for longer. Each change of state is one log line, and the worker writes
its open breakers to its ``workers`` row at once, so ``/status`` names the endpoint and how
long it has been down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, get_args

import httpx

from ..llm import LLMNotConfigured
from ..llm.config import NO_LLM, describe_llm, resolve_llm_config
from ..queue.payloads import PAYLOADS, LLMNeed, Need, kinds_needing
from ..settings import Settings
from .pacing import Pacing

log = logging.getLogger(__name__)

LLM_NEEDS: tuple[LLMNeed, ...] = get_args(LLMNeed)
FIRST_COOLDOWN_SECONDS = 2.0
MAX_COOLDOWN_SECONDS = 10.0


@dataclass
class Outage:
    endpoint: str  # what the operator reads: "LLM <model> at <url>" or "embedder <url>"
    error: str
    since: datetime
    failures: int = 1
    retry_at: float = 0.0  # monotonic
    probing: bool = False

    def as_report(self, needs: list[Need], waiting_kinds: list[str]) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "error": self.error,
            "since": self.since.isoformat(),
            "needs": needs,
            "kinds": waiting_kinds,
        }


@dataclass
class Gates:
    settings: Settings
    has_llm: bool
    embedder_endpoint: str | None  # None: no embedder at all
    #: (URL, key) to check a remote embedder with when no job is at hand
    embedder_probe: tuple[str, str | None] | None = None
    first_cooldown: float = FIRST_COOLDOWN_SECONDS
    max_cooldown: float = MAX_COOLDOWN_SECONDS
    clock: Callable[[], float] = time.monotonic
    #: need → why this worker cannot run it at all (no model configured)
    missing: dict[Need, str] = field(default_factory=dict)
    #: need → the endpoint it calls
    endpoints: dict[Need, str] = field(default_factory=dict)
    outages: dict[str, Outage] = field(default_factory=dict)
    #: endpoint → (URL to probe, API key) when no job is at hand to probe it
    probes: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    #: endpoint → when a job last got an answer from it, and its last error
    last_ok: dict[str, datetime] = field(default_factory=dict)
    last_error: dict[str, str] = field(default_factory=dict)
    #: bumped on every change the worker should report
    version: int = 0
    #: the in-process worker's: bulk work held back while the API beside it is busy
    pacing: Pacing | None = None

    def __post_init__(self) -> None:
        for need in LLM_NEEDS:
            if not self.has_llm:
                self.missing[need] = "this worker has no LLM"
                continue
            try:
                config = resolve_llm_config(self.settings, need)
            except LLMNotConfigured as exc:
                self.missing[need] = exc.message
                continue
            endpoint = f"LLM {config.model} at {config.base_url}"
            self.endpoints[need] = endpoint
            key = config.api_key.get_secret_value() if config.api_key is not None else None
            self.probes[endpoint] = (config.base_url.rstrip("/") + "/models", key)
        if self.embedder_endpoint is None:
            self.missing["embedder"] = "this worker has no embedder"
        else:
            self.endpoints["embedder"] = self.embedder_endpoint
            if self.embedder_probe is not None:
                self.probes[self.embedder_endpoint] = self.embedder_probe

    # ---- what may be claimed ----------------------------------------------------------

    def blocked_kinds(self) -> list[str]:
        now = self.clock()
        blocked: set[Need] = set(self.missing)
        for need, endpoint in self.endpoints.items():
            outage = self.outages.get(endpoint)
            if outage is not None and (outage.probing or now < outage.retry_at):
                blocked.add(need)
        return kinds_needing(blocked) if blocked else []

    @contextmanager
    def claiming(self) -> Iterator[bool]:
        """Around a claim: whether it may take bulk kinds (``BULK_KINDS``) now
        (``worker.pacing``); a change of pacing is reported at once."""
        if self.pacing is None:
            yield True
            return
        was_paced = self.pacing.paced_since is not None
        with self.pacing.claiming() as allowed:
            if (self.pacing.paced_since is not None) != was_paced:
                self.version += 1
            yield allowed

    def paced(self, kind: str) -> AbstractContextManager[None]:
        """Around the work of a claimed job of ``kind`` (``worker.pacing``)."""
        return nullcontext() if self.pacing is None else self.pacing.run(kind)

    def claimed(self, kind: str) -> None:
        """A job of ``kind`` was claimed: if its endpoint is down, it is the probe."""
        outage = self._outage_of(kind)
        if outage is not None:
            outage.probing = True

    # ---- what a job found -------------------------------------------------------------

    def down(self, kind: str, error: str) -> None:
        endpoint = self._endpoint_of(kind)
        if endpoint is None:
            return
        self.last_error[endpoint] = error
        outage = self.outages.get(endpoint)
        if outage is None:
            outage = Outage(endpoint, error, datetime.now(UTC), failures=0)
            self.outages[endpoint] = outage
            log.warning("%s is unavailable; its jobs wait until it answers: %s", endpoint, error)
            self.version += 1
        elif outage.error != error:
            outage.error = error
            self.version += 1
        outage.failures += 1
        outage.probing = False
        cooldown = self.first_cooldown * 2 ** min(outage.failures - 1, 16)
        outage.retry_at = self.clock() + min(cooldown, self.max_cooldown)

    def answered(self, kind: str) -> None:
        """A job of ``kind`` reached its endpoint and got an answer: the endpoint is up."""
        endpoint = self._endpoint_of(kind)
        if endpoint is None:
            return
        self.last_ok[endpoint] = datetime.now(UTC)
        outage = self.outages.pop(endpoint, None)
        if outage is not None:
            down_for = (datetime.now(UTC) - outage.since).total_seconds()
            log.warning("%s answers again after %.0f s down", outage.endpoint, down_for)
            self.version += 1

    def due_probes(self) -> list[tuple[str, str, str | None]]:
        """Endpoints down whose cool-down is over and that no job is probing: (endpoint,
        URL, key) for the worker to check itself — with no job left to try (another worker
        drained the backlog), a breaker would otherwise stay open, and reported, forever."""
        now = self.clock()
        due = []
        for endpoint, outage in self.outages.items():
            if not outage.probing and now >= outage.retry_at and endpoint in self.probes:
                outage.probing = True
                due.append((endpoint, *self.probes[endpoint]))
        return due

    def probed(self, endpoint: str, error: str | None) -> None:
        """The result of :meth:`due_probes`' check: ``None`` when the endpoint answered."""
        kinds = [k for k in PAYLOADS if self._endpoint_of(k) == endpoint]
        if not kinds:
            return
        if error is None:
            self.answered(kinds[0])
        else:
            self.down(kinds[0], error)

    def finished(self, kind: str) -> None:
        """A job of ``kind`` ended without telling us anything about its endpoint (it did
        not need to call it): let another job probe."""
        outage = self._outage_of(kind)
        if outage is not None:
            outage.probing = False

    # ---- what the worker reports --------------------------------------------------------

    def report(self) -> dict[str, Any]:
        outages = []
        for outage in self.outages.values():
            needs = [n for n, e in self.endpoints.items() if e == outage.endpoint]
            outages.append(outage.as_report(needs, kinds_needing(set(needs))))
        missing = [
            {"need": need, "reason": reason, "kinds": kinds_needing({need})}
            for need, reason in self.missing.items()
            if need != "embedder" or kinds_needing({need})
        ]
        return {
            "outages": outages,
            "missing": missing,
            "endpoints": self._endpoint_health(),
            "llm": describe_llm(self.settings) if self.has_llm else [NO_LLM],
            "bulk_paced_since": self._bulk_paced_since(),
        }

    def _bulk_paced_since(self) -> str | None:
        """Since when this worker's bulk work has been paced for a busy API, if it is."""
        since = self.pacing.paced_since if self.pacing is not None else None
        return since.isoformat() if since is not None else None

    def _endpoint_health(self) -> list[dict[str, Any]]:
        """Every endpoint this worker calls: up or down, last answer, last error."""
        health = []
        for endpoint in dict.fromkeys(self.endpoints.values()):
            outage = self.outages.get(endpoint)
            last_ok = self.last_ok.get(endpoint)
            health.append(
                {
                    "endpoint": endpoint,
                    "needs": [n for n, e in self.endpoints.items() if e == endpoint],
                    "state": "down" if outage else ("up" if last_ok else "not called yet"),
                    "last_ok": last_ok.isoformat() if last_ok else None,
                    "last_error": self.last_error.get(endpoint),
                    "down_since": outage.since.isoformat() if outage else None,
                }
            )
        return health

    def _endpoint_of(self, kind: str) -> str | None:
        cls = PAYLOADS.get(kind)
        return self.endpoints.get(cls.needs) if cls is not None and cls.needs else None

    def _outage_of(self, kind: str) -> Outage | None:
        endpoint = self._endpoint_of(kind)
        return self.outages.get(endpoint) if endpoint is not None else None


def describe_embedder_endpoint(embedder: object) -> str | None:
    """What the operator reads about the embedder, or None when there is none."""
    if embedder is None:
        return None
    name = getattr(embedder, "name", "embedder")
    base_url = getattr(embedder, "base_url", None)
    return f"embedder {name} at {base_url}" if base_url else f"embedder {name}"


def embedder_probe(embedder: object, settings: Settings) -> tuple[str, str | None] | None:
    """How to check a remote embedder's endpoint (None for the local one)."""
    base_url = getattr(embedder, "base_url", None)
    if not isinstance(base_url, str):
        return None
    key = settings.embedding_api_key
    return base_url.rstrip("/") + "/models", key.get_secret_value() if key else None


async def probe_endpoint(url: str, api_key: str | None, within: float = 5.0) -> str | None:
    """``None`` when the endpoint answers like a live server (any 2xx/3xx, or 404/405 from a
    server without this route), else why not. Sends the key, so a refused key stays down."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        async with httpx.AsyncClient(timeout=within) as client:
            response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if response.status_code < 400 or response.status_code in (404, 405):
        return None
    return f"answered {response.status_code}"
