"""Enqueue typed jobs inside the caller's transaction (the transactional outbox)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.repositories.jobs import JobRepository
from .payloads import DeleteSession, DeleteWorkspace


async def delete_session(db: AsyncSession, workspace: str, session: str) -> None:
    job = DeleteSession(workspace=workspace, session=session)
    await JobRepository(db).enqueue(
        job.kind,
        job.model_dump(),
        workspace=workspace,
        session=session,
        lock_key=f"session:{workspace}/{session}",
        dedupe_key=f"delete_session:{workspace}/{session}",
    )


async def delete_workspace(db: AsyncSession, workspace: str) -> None:
    job = DeleteWorkspace(workspace=workspace)
    await JobRepository(db).enqueue(
        job.kind,
        job.model_dump(),
        workspace=workspace,
        lock_key=f"workspace:{workspace}",
        dedupe_key=f"delete_workspace:{workspace}",
    )
