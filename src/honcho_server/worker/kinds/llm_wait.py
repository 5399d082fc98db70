"""LLM jobs on a worker with no LLM for their feature.

Workers do not claim such jobs at all (``worker.gates``), so this only happens when the
configuration changed under a running job: the job goes back to the queue with its attempt
given back, and waits for a worker that has an LLM.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ...llm import LLMClient, LLMNotConfigured
from ...llm.config import Feature
from ..context import JobContext

NOT_CONFIGURED_RETRY_SECONDS = 60.0


async def client_or_wait(ctx: JobContext, feature: Feature) -> LLMClient | None:
    """The feature's LLM client, or ``None`` after putting the job back to wait for one."""
    try:
        if ctx.services.llm is None:
            raise LLMNotConfigured("this worker has no LLM registry")
        client: LLMClient = ctx.services.llm.client(feature)
    except LLMNotConfigured as exc:
        due = datetime.now(UTC) + timedelta(seconds=NOT_CONFIGURED_RETRY_SECONDS)
        await ctx.wait(f"waiting: {exc.message}", retry_at=due)
        return None
    return client
