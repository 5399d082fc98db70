"""Hard deletion of a session or a workspace (run by jobs, after the API hid them), of one
message (in the request), and of a peer (hidden by the API, erased by a job)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import (
    DreamState,
    Message,
    Peer,
    PeerCard,
    Session,
    SessionPeer,
    Summary,
    Workspace,
    table,
)
from .conclusions import ConclusionRepository

D = table(DreamState)
M = table(Message)
P = table(Peer)
PC = table(PeerCard)
S = table(Session)
SP = table(SessionPeer)
SU = table(Summary)
W = table(Workspace)


class DeletionRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def deactivate_session(self, workspace: str, session: str) -> bool:
        """Hide an active session at once; False if it is missing or already inactive."""
        stmt = (
            update(S)
            .where(S.c.workspace_name == workspace, S.c.name == session, S.c.is_active)
            .values(is_active=False)
            .returning(S.c.id)
        )
        return (await self.db.execute(stmt)).first() is not None

    async def tombstone_workspace(self, workspace: str) -> bool:
        stmt = (
            update(W)
            .where(W.c.name == workspace, W.c.deleted_at.is_(None))
            .values(deleted_at=func.now())
            .returning(W.c.id)
        )
        return (await self.db.execute(stmt)).first() is not None

    async def has_active_sessions(self, workspace: str) -> bool:
        stmt = select(S.c.id).where(S.c.workspace_name == workspace, S.c.is_active).limit(1)
        return (await self.db.execute(stmt)).first() is not None

    async def purge_session(self, workspace: str, session: str) -> None:
        """Remove an inactive session and everything stamped with it.

        Messages, memberships, summaries and scope links go with the session row (FK cascade);
        its jobs are cancelled by the caller (``QueueRepository.cancel``).
        """
        await ConclusionRepository(self.db).delete_for_session(workspace, session)
        await self.db.execute(
            delete(S).where(S.c.workspace_name == workspace, S.c.name == session, ~S.c.is_active)
        )

    async def purge_workspace(self, workspace: str) -> None:
        """Remove a tombstoned workspace; every table cascades from it (its jobs are
        cancelled by the caller)."""
        await self.db.execute(delete(W).where(W.c.name == workspace, W.c.deleted_at.is_not(None)))

    async def delete_message(self, workspace: str, session: str, public_id: str) -> bool | None:
        """Remove one message of an active session (its embeddings cascade), the explicit
        conclusions that came from it alone, its id from the others' sources, and every
        summary that covered it. None if there is no such message; else whether a summary
        covered it (the caller queues a rebuild).

        Other messages keep their ``seq_in_session``. No lock on the session: writers to it go
        on (they only add rows), and a session deleted meanwhile is purged whole anyway.
        """
        active = select(S.c.id).where(
            S.c.workspace_name == workspace, S.c.name == session, S.c.is_active
        )
        if (await self.db.execute(active)).first() is None:
            return None
        stmt = (
            delete(M)
            .where(
                M.c.workspace_name == workspace,
                M.c.session_name == session,
                M.c.public_id == public_id,
            )
            .returning(M.c.id)
        )
        message_id = (await self.db.execute(stmt)).scalar_one_or_none()
        if message_id is None:
            return None
        await ConclusionRepository(self.db).forget_sources(workspace, [public_id])
        covered = (
            delete(SU)
            .where(
                SU.c.workspace_name == workspace,
                SU.c.session_name == session,
                SU.c.message_id >= message_id,
            )
            .returning(SU.c.kind)
        )
        return bool((await self.db.execute(covered)).all())

    async def tombstone_peer(self, workspace: str, peer: str) -> bool:
        """Hide a live peer of a live workspace at once and end its memberships; False if it
        is missing or already being erased. From the commit on, writes naming the peer are
        refused (migration 0013's triggers) and derivations no longer count it an observer."""
        live_workspace = (
            select(W.c.id).where(W.c.name == workspace, W.c.deleted_at.is_(None)).exists()
        )
        stmt = (
            update(P)
            .where(
                P.c.workspace_name == workspace,
                P.c.name == peer,
                P.c.deleted_at.is_(None),
                live_workspace,
            )
            .values(deleted_at=func.now())
            .returning(P.c.id)
        )
        if (await self.db.execute(stmt)).first() is None:
            return False
        await self.db.execute(
            delete(SP).where(SP.c.workspace_name == workspace, SP.c.peer_name == peer)
        )
        return True

    async def purge_peer(self, workspace: str, peer: str) -> list[str]:
        """Erase a tombstoned peer: its messages in every session (their embeddings cascade),
        its memberships, every conclusion by or about it, its references in other
        conclusions' sources (explicit ones drawn from its messages alone are soft-deleted),
        the summaries that covered its messages, its cards, its dream state, and its row.

        Returns the sessions whose summary was dropped (the caller queues their rebuild);
        ``[]`` if the peer is not tombstoned.
        """
        tombstoned = select(P.c.id).where(
            P.c.workspace_name == workspace, P.c.name == peer, P.c.deleted_at.is_not(None)
        )
        if (await self.db.execute(tombstoned)).first() is None:
            return []
        by_peer = (M.c.workspace_name == workspace, M.c.peer_name == peer)
        public_ids = list((await self.db.execute(select(M.c.public_id).where(*by_peer))).scalars())
        await ConclusionRepository(self.db).forget_sources(workspace, public_ids)
        first = (
            select(M.c.session_name, func.min(M.c.id).label("first"))
            .where(*by_peer)
            .group_by(M.c.session_name)
            .subquery()
        )
        dropped = (
            delete(SU)
            .where(
                SU.c.workspace_name == workspace,
                SU.c.session_name == first.c.session_name,
                SU.c.message_id >= first.c.first,
            )
            .returning(SU.c.session_name)
        )
        sessions = sorted({str(r.session_name) for r in (await self.db.execute(dropped)).all()})
        await ConclusionRepository(self.db).delete_about_peer(workspace, peer)
        about_card = (PC.c.observer == peer) | (PC.c.observed == peer)
        await self.db.execute(delete(PC).where(PC.c.workspace_name == workspace, about_card))
        about_dream = (D.c.observer == peer) | (D.c.observed == peer)
        await self.db.execute(delete(D).where(D.c.workspace_name == workspace, about_dream))
        await self.db.execute(delete(M).where(*by_peer))
        await self.db.execute(
            delete(SP).where(SP.c.workspace_name == workspace, SP.c.peer_name == peer)
        )
        await self.db.execute(delete(P).where(P.c.workspace_name == workspace, P.c.name == peer))
        return sessions

    async def purge_deleted_conclusions(self, older_than: timedelta) -> int:
        """Hard-delete conclusions soft-deleted more than ``older_than`` ago."""
        return await ConclusionRepository(self.db).purge_deleted(older_than)
