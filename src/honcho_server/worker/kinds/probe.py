"""A diagnostic job: proves end to end that a worker picks up and finishes work.

Also what the queue's own tests use to observe claiming, ordering, retries and recovery.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from ...queue import Probe, enqueue
from ..context import JobContext


class ProbeFailed(RuntimeError):
    pass


async def enqueue_probe(
    db: AsyncSession, probe: Probe, *, lock_key: str | None = None, max_attempts: int = 5
) -> None:
    if lock_key is not None:
        probe = probe.model_copy(update={"lock_key": lock_key})
    await enqueue(db, probe, max_attempts=max_attempts)


async def run_probe(ctx: JobContext, probe: Probe) -> None:
    if probe.sleep_seconds and ctx.attempt <= probe.sleep_on_attempts:
        await asyncio.sleep(probe.sleep_seconds)  # no transaction is open while waiting
    if probe.fail:
        raise ProbeFailed(f"probe {probe.note!r} was asked to fail")
