"""The status view: what is running, what is queued, what failed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class WorkerStatus(BaseModel):
    id: str
    started_at: datetime
    heartbeat_at: datetime
    alive: bool
    embedder: str | None = None
    version: str | None = None
    #: dependencies this worker found down (endpoint, error, since, the kinds that wait)
    outages: list[dict[str, Any]] = []
    #: job kinds this worker cannot run (no LLM for their feature) and why
    missing: list[dict[str, Any]] = []
    #: every endpoint it calls (LLM per feature, a remote embedder): up or down, last answer
    endpoints: list[dict[str, Any]] = []
    #: its LLM per feature, as configured in that process
    llm: list[str] = []
    #: since when the API beside it (an in-process worker's) has been busy, so its
    #: embeddings run only EMBED_SHARE_WHEN_BUSY of the time (worker.pacing); None: not paced
    bulk_paced_since: datetime | None = None


class FailedJob(BaseModel):
    id: int
    kind: str
    attempts: int
    last_error: str | None
    #: the model's answer, when an unusable answer was the reason
    raw_output: str | None = None
    finished_at: datetime | None
    workspace_id: str | None
    session_id: str | None


class QueueSummary(BaseModel):
    pending: int
    due: int
    running: int
    failed: int
    succeeded: int
    #: left to a twin that waits for the same work (see ``queue.states``)
    superseded: int = 0
    #: running, but their worker stopped heartbeating (re-queued by the next sweep)
    orphaned: int = 0
    oldest_pending_age_seconds: float | None
    by_kind: dict[str, dict[str, int]]


class Status(BaseModel):
    status: str  # "ok" | "degraded"
    version: str  # this server's package version
    honcho_api_version: str  # the upstream Honcho API level served (OpenAPI info.version)
    problems: list[str]
    database: dict[str, float | bool]
    workers: list[WorkerStatus]
    queue: QueueSummary
    failed_jobs: list[FailedJob]
    embedder: str
    #: one line per feature: its model and endpoint, or why it has none — as the running
    #: workers report it (``llm_source: "workers"``), or, with no live worker, as the
    #: settings of the process answering (``"this process"``)
    llm: list[str]
    llm_source: str = "this process"
