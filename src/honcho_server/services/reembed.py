"""Rebuild every embedding for a new embedder (another model, or another vector size)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.repositories.embeddings import EmbeddingRepository
from ..queue import embed_conclusions_jobs, embed_messages_jobs, enqueue_all
from ..queue.payloads import MAX_IDS_PER_JOB


async def reembed(db: AsyncSession, model: str, dimensions: int) -> tuple[int, int]:
    """Drop all vectors, resize the columns, claim the space for ``model`` and queue jobs that
    embed everything again, in one transaction. Returns (message jobs, conclusion jobs)."""
    repo = EmbeddingRepository(db)
    await repo.resize(dimensions)
    await repo.set_space(model, dimensions)
    message_groups = await repo.message_ids_by_workspace(MAX_IDS_PER_JOB)
    for workspace, ids in message_groups:
        await enqueue_all(db, embed_messages_jobs(workspace, None, ids))
    conclusion_groups = await repo.conclusion_ids_by_workspace(MAX_IDS_PER_JOB)
    for workspace, cids in conclusion_groups:
        await enqueue_all(db, embed_conclusions_jobs(workspace, cids))
    return len(message_groups), len(conclusion_groups)
