"""LLM jobs while no LLM is configured: they wait in the queue instead of failing."""

from __future__ import annotations

import logging

from ...db.repositories.derivation import DerivationRepository
from ...llm import LLMClient, LLMNotConfigured
from ...llm.config import Feature
from ..context import JobContext

log = logging.getLogger(__name__)

NOT_CONFIGURED_RETRY_SECONDS = 60.0


async def postpone_without_llm(ctx: JobContext, error: LLMNotConfigured) -> None:
    """Back to the queue for later, attempt not spent; the job record says why."""
    async with ctx.transaction() as db:
        waiting = await DerivationRepository(db).postpone(
            ctx.job_id, NOT_CONFIGURED_RETRY_SECONDS, f"waiting: {error.message}"
        )
    log.info("job %d waits for an LLM: %s", ctx.job_id, error.message)
    # Postponed: the runner must not mark it done. Not postponed: a twin job of the same
    # unit is already waiting and will do the work; this one succeeds empty-handed.
    ctx.completed = waiting


async def client_or_wait(ctx: JobContext, feature: Feature) -> LLMClient | None:
    """The feature's LLM client, or ``None`` after putting the job back to wait for one."""
    try:
        if ctx.services.llm is None:
            raise LLMNotConfigured("this worker has no LLM registry")
        client: LLMClient = ctx.services.llm.client(feature)
    except LLMNotConfigured as exc:
        await postpone_without_llm(ctx, exc)
        return None
    return client
