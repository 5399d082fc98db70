"""Reads behind dialectic chat: the conclusions and messages the agent may see.

:class:`ConclusionAccess` and :class:`MessageAccess` describe what one chat may read; every
method applies them, so a tool can never read outside the chat's collection or sessions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Conclusion, Message, Session, SessionPeer, table
from .conclusion_rows import ConclusionDetail, details
from .conclusions import DETAIL_COLUMNS, current
from .vectors import VectorRepository

C = table(Conclusion)
M = table(Message)
S = table(Session)
SP = table(SessionPeer)

MESSAGE_COLUMNS = (
    M.c.id,
    M.c.public_id,
    M.c.session_name,
    M.c.peer_name,
    M.c.seq_in_session,
    M.c.content,
    M.c.created_at,
)
DERIVED_LEVELS = ("deductive", "inductive", "contradiction")


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """A message as the chat reads it (``MESSAGE_COLUMNS``, in order: ``id`` the internal id,
    ``public_id`` the API's)."""

    id: int
    public_id: str
    session_name: str
    peer_name: str
    seq_in_session: int
    content: str
    created_at: datetime


def _messages(rows: Sequence[Sequence[Any]]) -> list[ChatMessage]:
    return [ChatMessage(*r) for r in rows]


@dataclass(frozen=True)
class ConclusionAccess:
    """One (observer, observed) collection, or (both ``None``) every conclusion of the
    workspace. An allowlist keeps only explicit conclusions from the listed sessions."""

    workspace: str
    observer: str | None
    observed: str | None
    sessions: tuple[str, ...] | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        where = [
            C.c.workspace_name == self.workspace,
            current(),  # not deleted, not replaced by a newer fact
        ]
        if self.observer is not None:
            where.append(C.c.observer == self.observer)
        if self.observed is not None:
            where.append(C.c.observed == self.observed)
        if self.sessions is not None:
            where += [C.c.session_name.in_(list(self.sessions)), C.c.level == "explicit"]
        return where


@dataclass(frozen=True)
class MessageAccess:
    """The sessions whose messages a chat may read (``None``: every active session)."""

    workspace: str
    sessions: tuple[str, ...] | None = None

    def condition(self) -> ColumnElement[bool]:
        active = (
            select(S.c.id)
            .where(S.c.workspace_name == M.c.workspace_name, S.c.name == M.c.session_name)
            .where(S.c.is_active)
            .exists()
        )
        where = [M.c.workspace_name == self.workspace, active]
        if self.sessions is not None:
            where.append(M.c.session_name.in_(list(self.sessions)))
        return and_(*where)

    def is_empty(self) -> bool:
        return self.sessions is not None and not self.sessions


class DialecticRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def member_sessions(self, workspace: str, peer: str) -> list[str]:
        """Active sessions ``peer`` is or was a member of (a past membership counts)."""
        stmt = (
            select(SP.c.session_name)
            .join(S, and_(S.c.workspace_name == SP.c.workspace_name, S.c.name == SP.c.session_name))
            .where(SP.c.workspace_name == workspace, SP.c.peer_name == peer, S.c.is_active)
            .order_by(SP.c.session_name)
        )
        return list((await self.db.execute(stmt)).scalars())

    # ---- conclusions --------------------------------------------------------------------

    async def nearest_conclusions(
        self, access: ConclusionAccess, vector: list[float], levels: Sequence[str], k: int
    ) -> list[ConclusionDetail]:
        where = [*access.conditions(), C.c.level.in_(list(levels))]
        rows = await VectorRepository(self.db).nearest_conclusions(vector, DETAIL_COLUMNS, where, k)
        return details(rows)  # without the distance

    async def recent_conclusions(
        self, access: ConclusionAccess, levels: Sequence[str], k: int, exclude: Sequence[str] = ()
    ) -> list[ConclusionDetail]:
        if k <= 0:
            return []
        stmt = select(*DETAIL_COLUMNS).where(*access.conditions(), C.c.level.in_(list(levels)))
        if exclude:
            stmt = stmt.where(C.c.id.not_in(list(exclude)))
        stmt = stmt.order_by(C.c.created_at.desc(), C.c.id.desc()).limit(k)
        return details((await self.db.execute(stmt)).all())

    # ---- messages -----------------------------------------------------------------------

    async def messages_around(
        self, access: MessageAccess, public_ids: Sequence[str], radius: int
    ) -> list[ChatMessage]:
        """The messages within ``radius`` positions of each given message, in session order."""
        if not public_ids:
            return []
        hits = (
            select(M.c.session_name, M.c.seq_in_session)
            .where(access.condition(), M.c.public_id.in_(list(public_ids)))
            .cte("hits")
        )
        near = and_(
            M.c.session_name == hits.c.session_name,
            M.c.seq_in_session.between(
                hits.c.seq_in_session - radius, hits.c.seq_in_session + radius
            ),
        )
        stmt = (
            select(*MESSAGE_COLUMNS)
            .where(M.c.workspace_name == access.workspace, select(hits).where(near).exists())
            .order_by(M.c.session_name, M.c.seq_in_session)
        )
        return _messages((await self.db.execute(stmt)).all())

    async def grep(self, access: MessageAccess, text: str, limit: int) -> list[ChatMessage]:
        """Messages containing ``text`` (any case), newest first."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = (
            select(*MESSAGE_COLUMNS)
            .where(access.condition(), M.c.content.ilike(pattern, escape="\\"))
            .order_by(M.c.created_at.desc(), M.c.id.desc())
            .limit(limit)
        )
        return _messages((await self.db.execute(stmt)).all())

    async def in_date_range(
        self,
        access: MessageAccess,
        after: datetime | None,
        before: datetime | None,
        limit: int,
        *,
        newest_first: bool,
    ) -> list[ChatMessage]:
        stmt = select(*MESSAGE_COLUMNS).where(access.condition())
        if after is not None:
            stmt = stmt.where(M.c.created_at >= after)
        if before is not None:
            stmt = stmt.where(M.c.created_at <= before)
        order = (M.c.created_at.desc(), M.c.id.desc()) if newest_first else (M.c.created_at, M.c.id)
        return _messages((await self.db.execute(stmt.order_by(*order).limit(limit))).all())

    async def messages_by_public_id(
        self, access: MessageAccess, public_ids: Sequence[str]
    ) -> list[ChatMessage]:
        if not public_ids:
            return []
        stmt = select(*MESSAGE_COLUMNS).where(
            access.condition(), M.c.public_id.in_(list(public_ids))
        )
        return _messages((await self.db.execute(stmt.order_by(M.c.id))).all())

    async def conclusion(
        self, access: ConclusionAccess, conclusion_id: str
    ) -> ConclusionDetail | None:
        stmt = select(*DETAIL_COLUMNS).where(*access.conditions(), C.c.id == conclusion_id)
        found = details((await self.db.execute(stmt)).all())
        return found[0] if found else None
