"""What a job handler gets: its job, short transactions, and the shared services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.session import unit_of_work
from ..observability.concurrency import Concurrency
from ..queue import QueueRepository
from ..settings import Settings
from .gates import FIRST_COOLDOWN_SECONDS, Gates, describe_embedder_endpoint, embedder_probe
from .pacing import Pacing


@dataclass
class WorkerServices:
    """What handlers share, built once per process: settings and long-lived clients."""

    settings: Settings = field(default_factory=lambda: Settings(_env_file=None))
    embedder: Any = None
    llm: Any = None  # an LLMRegistry
    #: the first cool-down of a dependency found down (doubling up to 10 s); tests use 0
    outage_cooldown: float = FIRST_COOLDOWN_SECONDS
    #: the requests in flight of the API in this process (the in-process worker's), whose
    #: load holds bulk work back (``worker.pacing``); None for a worker on its own
    api: Concurrency | None = None
    _gates: Gates | None = field(default=None, repr=False)

    @property
    def gates(self) -> Gates:
        """Which kinds this worker may claim now (built on first use)."""
        if self._gates is None:
            self._gates = Gates(
                self.settings,
                has_llm=self.llm is not None,
                embedder_endpoint=describe_embedder_endpoint(self.embedder),
                embedder_probe=embedder_probe(self.embedder, self.settings),
                first_cooldown=self.outage_cooldown,
                pacing=None
                if self.api is None
                else Pacing(self.api, self.settings.embed_share_when_busy),
            )
        return self._gates


@dataclass
class JobContext:
    job_id: int
    attempt: int
    factory: async_sessionmaker[AsyncSession]
    services: WorkerServices
    completed: bool = False
    #: how the attempt ended when the handler itself sent the job back (``wait``)
    outcome: str | None = None
    usage: dict[str, int] = field(default_factory=dict)  # LLM tokens this attempt spent
    #: a batch's jobs (``job_id`` is the first): ``completing()`` succeeds them all at once
    batch_ids: tuple[int, ...] = ()

    def record_usage(self, spent: Any) -> None:
        """Add an LLM call's usage (anything with ``as_dict()``) to this job's account."""
        for key, value in spent.as_dict().items():
            self.usage[key] = self.usage.get(key, 0) + int(value)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A short transaction. Open one around database work only — never around an LLM,
        embedding or HTTP call, so no connection is held while waiting on those."""
        async with unit_of_work(self.factory) as db:
            yield db

    @asynccontextmanager
    async def completing(self) -> AsyncIterator[AsyncSession]:
        """The last transaction: the handler's final writes and the job's success commit
        together, so a crash can never leave the work done but the job pending (or the
        reverse)."""
        async with unit_of_work(self.factory) as db:
            yield db
            if self.batch_ids:
                await QueueRepository(db).succeed_many(self.batch_ids)
            else:
                await QueueRepository(db).succeed(self.job_id, self.usage)
        self.completed = True

    async def wait(self, reason: str, *, retry_at: datetime | None = None) -> None:
        """Give the job back to the queue without spending its attempt (``wait`` in the state
        machine): due again at ``retry_at`` (now if None), or superseded by a waiting twin,
        which will do this job's work. The handler should return right after."""
        async with unit_of_work(self.factory) as db:
            state = await QueueRepository(db).wait(
                self.job_id, reason, retry_at=retry_at, usage=self.usage
            )
        self.completed = True
        self.outcome = "superseded" if state == "superseded" else "waited"
