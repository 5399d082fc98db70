"""Embedding jobs: message chunks and conclusions. The embedder runs with no transaction open."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from ...db.repositories.embeddings import ChunkVector, EmbeddingRepository
from ...db.repositories.jobs import BULK_PRIORITY, JobRepository
from ...embeddings import Embedder, chunk_text
from ..context import JobContext

MAX_IDS_PER_JOB = 100


class EmbedMessages(BaseModel):
    kind: Literal["embed_messages"] = "embed_messages"
    workspace: str
    message_ids: list[int] = Field(min_length=1, max_length=MAX_IDS_PER_JOB)


class EmbedConclusions(BaseModel):
    kind: Literal["embed_conclusions"] = "embed_conclusions"
    workspace: str
    conclusion_ids: list[str] = Field(min_length=1, max_length=MAX_IDS_PER_JOB)


async def enqueue_embed_messages(
    db: AsyncSession, workspace: str, session: str | None, message_ids: list[int]
) -> None:
    """Queue embedding for new messages, in the transaction that stores them."""
    repo = JobRepository(db)
    for i in range(0, len(message_ids), MAX_IDS_PER_JOB):
        job = EmbedMessages(workspace=workspace, message_ids=message_ids[i : i + MAX_IDS_PER_JOB])
        await repo.enqueue(
            job.kind, job.model_dump(), workspace=workspace, session=session, priority=BULK_PRIORITY
        )


async def enqueue_embed_conclusions(db: AsyncSession, workspace: str, ids: list[str]) -> None:
    repo = JobRepository(db)
    for i in range(0, len(ids), MAX_IDS_PER_JOB):
        job = EmbedConclusions(workspace=workspace, conclusion_ids=ids[i : i + MAX_IDS_PER_JOB])
        await repo.enqueue(job.kind, job.model_dump(), workspace=workspace, priority=BULK_PRIORITY)


def _embedder(ctx: JobContext) -> Embedder:
    if ctx.services.embedder is None:
        raise RuntimeError("this worker has no embedder configured")
    embedder: Embedder = ctx.services.embedder
    return embedder


async def embed_messages(ctx: JobContext, job: EmbedMessages) -> None:
    embedder = _embedder(ctx)
    async with ctx.transaction() as db:
        rows = await EmbeddingRepository(db).messages(job.message_ids)
    pieces: list[tuple[int, int, str]] = []  # (row index, chunk index, text)
    for n, row in enumerate(rows):
        if row.content.strip():
            chunks = await asyncio.to_thread(
                chunk_text, embedder, row.content, embedder.max_input_tokens
            )
            pieces += [(n, k, c) for k, c in enumerate(chunks)]
    vectors = await embedder.embed([p[2] for p in pieces], background=True) if pieces else []
    chunks_out = [
        ChunkVector(
            message_id=rows[n].id,
            chunk_index=k,
            workspace=rows[n].workspace_name,
            session=rows[n].session_name,
            peer=rows[n].peer_name,
            vector=v,
        )
        for (n, k, _), v in zip(pieces, vectors, strict=True)
    ]
    async with ctx.completing() as db:
        await EmbeddingRepository(db).replace_message_chunks([r.id for r in rows], chunks_out)


async def embed_conclusions(ctx: JobContext, job: EmbedConclusions) -> None:
    embedder = _embedder(ctx)
    async with ctx.transaction() as db:
        rows = [
            r
            for r in await EmbeddingRepository(db).conclusions(job.conclusion_ids)
            if r.content.strip()
        ]
    vectors = await embedder.embed([r.content for r in rows], background=True) if rows else []
    async with ctx.completing() as db:
        await EmbeddingRepository(db).set_conclusion_vectors(
            {r.id: v for r, v in zip(rows, vectors, strict=True)}
        )
