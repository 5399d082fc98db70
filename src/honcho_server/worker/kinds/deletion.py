"""Purging deleted sessions and workspaces (the API has already hidden them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from ...db.repositories.deletion import DeletionRepository
from ...db.repositories.jobs import JobRepository
from ..context import JobContext


class DeleteSession(BaseModel):
    kind: Literal["delete_session"] = "delete_session"
    workspace: str
    session: str


class DeleteWorkspace(BaseModel):
    kind: Literal["delete_workspace"] = "delete_workspace"
    workspace: str


async def enqueue_delete_session(db: AsyncSession, workspace: str, session: str) -> None:
    job = DeleteSession(workspace=workspace, session=session)
    await JobRepository(db).enqueue(
        job.kind,
        job.model_dump(),
        workspace=workspace,
        session=session,
        lock_key=f"session:{workspace}/{session}",
        dedupe_key=f"delete_session:{workspace}/{session}",
    )


async def enqueue_delete_workspace(db: AsyncSession, workspace: str) -> None:
    job = DeleteWorkspace(workspace=workspace)
    await JobRepository(db).enqueue(
        job.kind,
        job.model_dump(),
        workspace=workspace,
        lock_key=f"workspace:{workspace}",
        dedupe_key=f"delete_workspace:{workspace}",
    )


async def delete_session(ctx: JobContext, payload: DeleteSession) -> None:
    async with ctx.completing() as db:
        await DeletionRepository(db).purge_session(
            payload.workspace, payload.session, except_job=ctx.job_id
        )


async def delete_workspace(ctx: JobContext, payload: DeleteWorkspace) -> None:
    async with ctx.completing() as db:
        await DeletionRepository(db).purge_workspace(payload.workspace, except_job=ctx.job_id)
