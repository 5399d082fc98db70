"""A diagnostic job: proves end to end that a worker picks up and finishes work.

Also what the queue's own tests use to observe claiming, ordering, retries and recovery.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from ...db.repositories.jobs import JobRepository
from ..context import JobContext


class Probe(BaseModel):
    kind: Literal["probe"] = "probe"
    note: str = ""
    sleep_seconds: float = Field(default=0.0, ge=0, le=3600)
    sleep_on_attempts: int = Field(default=1_000_000, ge=1)  # sleep only up to this attempt
    fail: bool = False


class ProbeFailed(RuntimeError):
    pass


async def enqueue_probe(
    db: AsyncSession, probe: Probe, *, lock_key: str | None = None, max_attempts: int = 5
) -> None:
    await JobRepository(db).enqueue(
        probe.kind, probe.model_dump(), lock_key=lock_key, max_attempts=max_attempts
    )


async def run_probe(ctx: JobContext, probe: Probe) -> None:
    if probe.sleep_seconds and ctx.attempt <= probe.sleep_on_attempts:
        await asyncio.sleep(probe.sleep_seconds)  # no transaction is open while waiting
    if probe.fail:
        raise ProbeFailed(f"probe {probe.note!r} was asked to fail")
