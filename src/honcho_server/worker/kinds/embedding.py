"""Embedding jobs: message chunks and conclusions. The embedder runs with no transaction open."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from ...db.repositories.conclusions import ConclusionRepository
from ...db.repositories.embeddings import ChunkVector, EmbeddingRepository
from ...embeddings import Embedder, chunk_text
from ...queue import (
    EmbedConclusions,
    EmbedMessages,
    embed_conclusions_jobs,
    embed_messages_jobs,
    enqueue_all,
)
from ...queue.payloads import MAX_IDS_PER_JOB as MAX_IDS_PER_JOB
from ..context import JobContext


async def enqueue_embed_messages(
    db: AsyncSession, workspace: str, session: str | None, message_ids: list[int]
) -> None:
    """Queue embedding for new messages, in the transaction that stores them."""
    await enqueue_all(db, embed_messages_jobs(workspace, session, message_ids))


async def enqueue_embed_conclusions(db: AsyncSession, workspace: str, ids: list[str]) -> None:
    await enqueue_all(db, embed_conclusions_jobs(workspace, ids))


def _embedder(ctx: JobContext) -> Embedder:
    if ctx.services.embedder is None:
        raise RuntimeError("this worker has no embedder configured")
    embedder: Embedder = ctx.services.embedder
    return embedder


async def embed_messages(ctx: JobContext, job: EmbedMessages) -> None:
    await embed_messages_batch(ctx, [job])


async def embed_messages_batch(ctx: JobContext, jobs: list[EmbedMessages]) -> None:
    """The messages of one job, or of a batch of jobs (``ctx.batch_ids``): one read, one
    model call, one write, completed with the job(s)."""
    embedder = _embedder(ctx)
    ids = sorted({i for job in jobs for i in job.message_ids})
    async with ctx.transaction() as db:
        rows = await EmbeddingRepository(db).messages(ids)
    pieces = await asyncio.to_thread(_pieces, embedder, [r.content for r in rows])
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


def _pieces(embedder: Embedder, contents: list[str]) -> list[tuple[int, int, str]]:
    """(row index, chunk index, text) for every chunk of every non-blank content."""
    pieces: list[tuple[int, int, str]] = []
    for n, content in enumerate(contents):
        if content.strip():
            chunks = chunk_text(embedder, content, embedder.max_input_tokens)
            pieces += [(n, k, c) for k, c in enumerate(chunks)]
    return pieces


async def embed_conclusions(ctx: JobContext, job: EmbedConclusions) -> None:
    embedder = _embedder(ctx)
    async with ctx.transaction() as db:
        rows = [
            r
            for r in await ConclusionRepository(db).to_embed(job.conclusion_ids)
            if r.content.strip()
        ]
    vectors = await embedder.embed([r.content for r in rows], background=True) if rows else []
    async with ctx.completing() as db:
        await ConclusionRepository(db).set_vectors(
            {r.id: v for r, v in zip(rows, vectors, strict=True)}
        )
