"""Rebuild every embedding for a new embedder (another model, or another vector size)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.repositories.embeddings import EmbeddingRepository
from ..worker.kinds.embedding import (
    MAX_IDS_PER_JOB,
    enqueue_embed_conclusions,
    enqueue_embed_messages,
)


async def reembed(db: AsyncSession, model: str, dimensions: int) -> tuple[int, int]:
    """Drop all vectors, resize the columns, claim the space for ``model`` and queue jobs that
    embed everything again, in one transaction. Returns (message jobs, conclusion jobs)."""
    repo = EmbeddingRepository(db)
    await repo.resize(dimensions)
    await repo.set_space(model, dimensions)
    message_groups = await repo.message_ids_by_workspace(MAX_IDS_PER_JOB)
    for workspace, ids in message_groups:
        await enqueue_embed_messages(db, workspace, None, ids)
    conclusion_groups = await repo.conclusion_ids_by_workspace(MAX_IDS_PER_JOB)
    for workspace, cids in conclusion_groups:
        await enqueue_embed_conclusions(db, workspace, cids)
    return len(message_groups), len(conclusion_groups)
