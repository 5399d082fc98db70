"""Rebuild every embedding for a new embedder (another model, or another vector size)."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.repositories.conclusions import ConclusionRepository
from ..db.repositories.embeddings import EmbeddingRepository
from ..queue import embed_conclusions_jobs, embed_messages_jobs, enqueue_all
from ..queue.payloads import MAX_IDS_PER_JOB

T = TypeVar("T")


async def reembed(db: AsyncSession, model: str, dimensions: int) -> tuple[int, int]:
    """Drop all vectors, resize the columns, claim the space for ``model`` and queue jobs that
    embed everything again, in one transaction. Returns (message jobs, conclusion jobs)."""
    repo = EmbeddingRepository(db)
    await repo.resize(dimensions)
    await repo.set_space(model, dimensions)
    message_groups = _groups(await repo.message_ids(), MAX_IDS_PER_JOB)
    for workspace, ids in message_groups:
        await enqueue_all(db, embed_messages_jobs(workspace, None, ids))
    conclusion_groups = _groups(await ConclusionRepository(db).live_ids(), MAX_IDS_PER_JOB)
    for workspace, cids in conclusion_groups:
        await enqueue_all(db, embed_conclusions_jobs(workspace, cids))
    return len(message_groups), len(conclusion_groups)


def _groups(pairs: list[tuple[str, T]], batch: int) -> list[tuple[str, list[T]]]:
    """(workspace, ids) groups of at most ``batch`` ids, from pairs ordered by workspace."""
    groups: list[tuple[str, list[T]]] = []
    for workspace, item in pairs:
        if not groups or groups[-1][0] != workspace or len(groups[-1][1]) >= batch:
            groups.append((workspace, []))
        groups[-1][1].append(item)
    return groups
