"""Purging deleted sessions and workspaces (the API has already hidden them)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ...db.repositories.deletion import DeletionRepository
from ...queue import DeleteSession, DeleteWorkspace, QueueRepository, enqueue
from ..context import JobContext


async def enqueue_delete_session(db: AsyncSession, workspace: str, session: str) -> None:
    await enqueue(db, DeleteSession(workspace=workspace, session=session))


async def enqueue_delete_workspace(db: AsyncSession, workspace: str) -> None:
    await enqueue(db, DeleteWorkspace(workspace=workspace))


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
