"""Deleting workspaces and sessions (hidden now, purged by a job), deleting one message (at
once), erasing a peer (hidden now, erased by a job), and cloning sessions."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.repositories.clone import CloneRepository
from ..db.repositories.deletion import DeletionRepository
from ..db.repositories.workspaces import WorkspaceRepository
from ..deriver.config import Defaults
from ..deriver.rebuild import queue_summary_rebuild
from ..errors import Conflict, NotFound
from ..ids import new_id
from ..queue import DeleteSession, DeleteWorkspace, ErasePeer, enqueue
from ..schemas.sessions import Session
from . import views


async def delete_session(db: AsyncSession, workspace: str, session: str) -> None:
    """Hide the session at once and queue its purge, in one transaction."""
    if not await DeletionRepository(db).deactivate_session(workspace, session):
        raise NotFound(f"Session {session} not found")
    await enqueue(db, DeleteSession(workspace=workspace, session=session))


async def delete_workspace(db: AsyncSession, workspace: str) -> None:
    repo = DeletionRepository(db)
    row = await WorkspaceRepository(db).get(workspace)
    if row is None or row.deleted_at is not None:
        raise NotFound(f"Workspace {workspace} not found")
    # Tombstone first: the UPDATE waits for writers that hold the workspace, so the check
    # after it sees every session they created (and a 409 rolls the tombstone back).
    if not await repo.tombstone_workspace(workspace):
        raise NotFound(f"Workspace {workspace} not found")
    if await repo.has_active_sessions(workspace):
        raise Conflict(f"Workspace {workspace} still has active sessions; delete them first")
    await enqueue(db, DeleteWorkspace(workspace=workspace))


async def erase_peer(db: AsyncSession, workspace: str, peer: str) -> None:
    """Hide the peer and end its memberships at once, and queue its erasure, in one
    transaction. Until the job has run, writes naming the peer answer 409."""
    if not await DeletionRepository(db).tombstone_peer(workspace, peer):
        raise NotFound(f"Peer {peer} not found")
    await enqueue(db, ErasePeer(workspace=workspace, peer=peer))


async def delete_message(
    db: AsyncSession, workspace: str, session: str, message: str, defaults: Defaults
) -> None:
    """Remove one message, in this transaction (see ``DeletionRepository.delete_message``);
    a summary that covered it is dropped and, when the session has summaries on, rebuilt by a
    queued summarize job."""
    covered = await DeletionRepository(db).delete_message(workspace, session, message)
    if covered is None:
        raise NotFound(f"Message with ID {message} not found in session {session}")
    if covered:
        await queue_summary_rebuild(db, workspace, session, defaults)


async def clone_session(
    db: AsyncSession, workspace: str, session: str, message_id: str | None
) -> Session:
    repo = CloneRepository(db)
    upto = None
    if message_id is not None:
        upto = await repo.message_internal_id(workspace, session, message_id)
        if upto is None:
            raise NotFound(f"Message with ID {message_id} not found in session {session}")
    row = await repo.clone(workspace, session, new_id(), upto)
    if row is None:
        raise NotFound("Session not found")
    return views.session(row)
