"""Purging deleted sessions and workspaces, and erasing peers (the API has already hidden
them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ...db.repositories.deletion import DeletionRepository
from ...deriver.config import defaults_from
from ...deriver.rebuild import queue_summary_rebuild
from ...queue import (
    DeleteSession,
    DeleteWorkspace,
    ErasePeer,
    QueueRepository,
)
from ..context import JobContext

#: How long an erase waits before looking again for running jobs about the peer.
ERASE_RECHECK_SECONDS = 2.0


async def delete_session(ctx: JobContext, payload: DeleteSession) -> None:
    async with ctx.completing() as db:
        await QueueRepository(db).cancel(
            payload.workspace, session=payload.session, except_job=ctx.job_id
        )
        await DeletionRepository(db).purge_session(payload.workspace, payload.session)


async def delete_workspace(ctx: JobContext, payload: DeleteWorkspace) -> None:
    async with ctx.completing() as db:
        await QueueRepository(db).cancel(payload.workspace, except_job=ctx.job_id)
        await DeletionRepository(db).purge_workspace(payload.workspace)


async def erase_peer(ctx: JobContext, payload: ErasePeer) -> None:
    """Cancel the queued jobs about the peer, wait for the running ones to end (a derivation
    in flight could otherwise write about it after the erase), then erase it in one
    transaction and queue the rebuild of the summaries that covered its messages."""
    async with ctx.transaction() as db:
        queue = QueueRepository(db)
        await queue.cancel(payload.workspace, peer=payload.peer, except_job=ctx.job_id)
        running = await queue.running_for_peer(
            payload.workspace, payload.peer, except_job=ctx.job_id
        )
    if running:
        due = datetime.now(UTC) + timedelta(seconds=ERASE_RECHECK_SECONDS)
        await ctx.wait(f"waiting for {running} running job(s) about the peer", retry_at=due)
        return
    async with ctx.completing() as db:
        await QueueRepository(db).cancel(
            payload.workspace, peer=payload.peer, except_job=ctx.job_id
        )
        rebuild = await DeletionRepository(db).purge_peer(payload.workspace, payload.peer)
        defaults = defaults_from(ctx.services.settings)
        for session in rebuild:
            await queue_summary_rebuild(db, payload.workspace, session, defaults)
