"""What a job handler gets: its job, short transactions, and the shared services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.repositories.jobs import JobRepository
from ..db.session import unit_of_work
from ..settings import Settings


@dataclass
class WorkerServices:
    """What handlers share, built once per process: settings and long-lived clients."""

    settings: Settings = field(default_factory=lambda: Settings(_env_file=None))
    embedder: Any = None
    llm: Any = None  # an LLMRegistry


@dataclass
class JobContext:
    job_id: int
    attempt: int
    factory: async_sessionmaker[AsyncSession]
    services: WorkerServices
    completed: bool = False
    usage: dict[str, int] = field(default_factory=dict)  # LLM tokens this attempt spent

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
            await JobRepository(db).succeed(self.job_id, self.usage)
        self.completed = True
