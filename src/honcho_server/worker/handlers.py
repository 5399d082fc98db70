"""What each job kind does. A handler runs inside the transaction that completes its job."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.repositories.deletion import DeletionRepository
from .payloads import DeleteSession, DeleteWorkspace, Payload


async def handle(db: AsyncSession, job_id: int, payload: Payload) -> None:
    repo = DeletionRepository(db)
    if isinstance(payload, DeleteSession):
        await repo.purge_session(payload.workspace, payload.session, except_job=job_id)
    elif isinstance(payload, DeleteWorkspace):
        await repo.purge_workspace(payload.workspace, except_job=job_id)
