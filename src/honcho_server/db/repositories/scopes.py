"""SQL for the ``scopes`` and ``scope_sessions`` tables."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, case, delete, literal, select, true, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Message, Scope, ScopeSession, Session, table
from .paging import fetch_page_into, row_into
from .sessions import COLUMNS as SESSION_COLUMNS
from .sessions import SessionRow

T = table(Scope)
M = table(ScopeSession)
S = table(Session)
MSG = table(Message)
COLUMNS = (T.c.id, T.c.workspace_name, T.c.name, T.c.metadata, T.c.created_at)

NO_BACKFILL = "none"
"""``backfill_state`` of a session that had no messages when it joined: nothing to copy,
so no backfill was ever enqueued and the status route leaves it out."""


@dataclass(frozen=True, slots=True)
class ScopeRow:
    """A scope as read (the columns of ``COLUMNS``, in order)."""

    id: int
    workspace_name: str
    name: str
    metadata: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class BackfillRow:
    """A member session's backfill, as :meth:`ScopeRepository.backfills` reads it."""

    session_name: str
    backfill_state: str
    backfill_updated_at: datetime | None
    docs_copied: int


class ScopeRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get(self, workspace: str, name: str) -> ScopeRow | None:
        stmt = select(*COLUMNS).where(T.c.workspace_name == workspace, T.c.name == name)
        return row_into(ScopeRow, (await self.db.execute(stmt)).first())

    async def create_if_missing(
        self, workspace: str, name: str, metadata: dict[str, Any]
    ) -> ScopeRow | None:
        """Insert and return the new scope, or ``None`` when one with that name exists."""
        stmt = (
            insert(T)
            .values(workspace_name=workspace, name=name, metadata=metadata)
            .on_conflict_do_nothing()
            .returning(*COLUMNS)
        )
        return row_into(ScopeRow, (await self.db.execute(stmt)).first())

    async def ensure_many(self, workspace: str, names: Iterable[str]) -> None:
        rows = [{"workspace_name": workspace, "name": n} for n in names]
        if rows:
            await self.db.execute(insert(T).values(rows).on_conflict_do_nothing())

    async def set_metadata(
        self, workspace: str, name: str, metadata: dict[str, Any]
    ) -> ScopeRow | None:
        stmt = (
            update(T)
            .where(T.c.workspace_name == workspace, T.c.name == name)
            .values(metadata=metadata)
            .returning(*COLUMNS)
        )
        return row_into(ScopeRow, (await self.db.execute(stmt)).first())

    async def list_page(
        self, workspace: str, *, page: int, size: int, reverse: bool
    ) -> tuple[list[ScopeRow], int]:
        stmt = select(*COLUMNS).where(T.c.workspace_name == workspace)
        order = (T.c.created_at.desc(), T.c.id.desc()) if reverse else (T.c.created_at, T.c.id)
        return await fetch_page_into(ScopeRow, self.db, stmt, order, page=page, size=size)

    async def active_sessions(self, workspace: str, names: list[str]) -> set[str]:
        """Which of ``names`` are active sessions of the workspace, locked ``FOR SHARE`` until
        commit so a concurrent DELETE cannot deactivate them (and purge the memberships about
        to be written) before this transaction commits."""
        stmt = (
            select(S.c.name)
            .where(S.c.workspace_name == workspace, S.c.name.in_(sorted(set(names))), S.c.is_active)
            .with_for_update(read=True)
        )
        return set((await self.db.execute(stmt)).scalars())

    async def add_members(
        self,
        workspace: str,
        scopes: list[str],
        sessions: list[str],
        *,
        backfill_state: str,
        docs_copied: int | None,
    ) -> None:
        """Join every active session in ``sessions`` to every existing scope in ``scopes``.

        Existing memberships are left untouched. A session that already holds messages gets
        ``backfill_state``/``docs_copied``; an empty one gets :data:`NO_BACKFILL`.
        """
        has_messages = (
            select(MSG.c.id)
            .where(MSG.c.workspace_name == S.c.workspace_name, MSG.c.session_name == S.c.name)
            .exists()
        )
        source = (
            select(
                S.c.workspace_name,
                T.c.name,
                S.c.name,
                case((has_messages, literal(backfill_state)), else_=literal(NO_BACKFILL)),
                case((has_messages, literal(docs_copied, Integer)), else_=None),
            )
            .select_from(S)
            .join(T, true())
            .where(S.c.workspace_name == workspace, S.c.name.in_(sessions), S.c.is_active)
            .where(T.c.workspace_name == workspace, T.c.name.in_(scopes))
        )
        columns = ["workspace_name", "scope_name", "session_name", "backfill_state", "docs_copied"]
        stmt = insert(M).from_select(columns, source).on_conflict_do_nothing()
        await self.db.execute(stmt)

    async def remove_member(self, workspace: str, scope: str, session: str) -> bool:
        """Drop one membership; ``False`` when the session was not a member."""
        stmt = (
            delete(M)
            .where(
                M.c.workspace_name == workspace,
                M.c.scope_name == scope,
                M.c.session_name == session,
            )
            .returning(M.c.session_name)
        )
        return (await self.db.execute(stmt)).first() is not None

    async def list_members(
        self, workspace: str, scope: str, *, page: int, size: int, reverse: bool
    ) -> tuple[list[SessionRow], int]:
        """Active member sessions, longest-standing member first."""
        stmt = (
            select(*SESSION_COLUMNS)
            .join(M, and_(M.c.workspace_name == S.c.workspace_name, M.c.session_name == S.c.name))
            .where(M.c.workspace_name == workspace, M.c.scope_name == scope, S.c.is_active)
        )
        keys = (M.c.joined_at, S.c.created_at, S.c.id)
        order = tuple(k.desc() for k in keys) if reverse else keys
        return await fetch_page_into(SessionRow, self.db, stmt, order, page=page, size=size)

    async def backfills(self, workspace: str, scope: str) -> list[BackfillRow]:
        """Members that had a backfill enqueued, with its state."""
        stmt = (
            select(M.c.session_name, M.c.backfill_state, M.c.backfill_updated_at, M.c.docs_copied)
            .where(
                M.c.workspace_name == workspace,
                M.c.scope_name == scope,
                M.c.backfill_state != NO_BACKFILL,
            )
            .order_by(M.c.joined_at, M.c.session_name)
        )
        return [BackfillRow(*r) for r in (await self.db.execute(stmt)).all()]
