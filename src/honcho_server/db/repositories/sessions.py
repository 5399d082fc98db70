"""SQL for the ``sessions`` table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..filters import SESSION_FILTERS, build_filter
from ..models import Session, SessionPeer, Workspace, table
from ..read_pool import ReadPool
from .paging import fetch_page_into, row_into
from .raw import Compiled

T = table(Session)
M = table(SessionPeer)
W = table(Workspace)
COLUMNS = (
    T.c.id,
    T.c.workspace_name,
    T.c.name,
    T.c.is_active,
    T.c.metadata,
    T.c.configuration,
    T.c.created_at,
)

# Built once (the hot get-or-create read): no statement construction or cache-key walk per call.
_GET_LIVE = select(*COLUMNS).where(
    T.c.workspace_name == bindparam("ws"),
    T.c.name == bindparam("name"),
    T.c.is_active,
    select(W.c.id).where(W.c.name == bindparam("ws"), W.c.deleted_at.is_(None)).exists(),
)
_FIND_LIVE = Compiled.of(_GET_LIVE)
HOT_READS = (_FIND_LIVE.sql,)  # run once on each new read-pool connection (db.warm_up)


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A session as read (the columns of ``COLUMNS``, in order)."""

    id: int
    workspace_name: str
    name: str
    is_active: bool
    metadata: dict[str, Any]
    configuration: dict[str, Any]
    created_at: datetime


async def find_live(reads: ReadPool, workspace: str, name: str) -> SessionRow | None:
    """:meth:`SessionRepository.get_live` on the read pool: one statement, no session."""
    row = await reads.first(_FIND_LIVE, ws=workspace, name=name)
    return row_into(SessionRow, row)


class SessionRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get(self, workspace: str, name: str) -> SessionRow | None:
        """The session, active or not."""
        stmt = select(*COLUMNS).where(T.c.workspace_name == workspace, T.c.name == name)
        return row_into(SessionRow, (await self.db.execute(stmt)).first())

    async def get_live(self, workspace: str, name: str) -> SessionRow | None:
        """The session, if it is active and its workspace live (not being deleted)."""
        return row_into(
            SessionRow, (await self.db.execute(_GET_LIVE, {"ws": workspace, "name": name})).first()
        )

    async def create_if_missing(
        self, workspace: str, name: str, metadata: dict[str, Any], configuration: dict[str, Any]
    ) -> SessionRow | None:
        """Insert and return the new session, or ``None`` when one with that name exists."""
        stmt = (
            insert(T)
            .values(
                workspace_name=workspace,
                name=name,
                metadata=metadata,
                configuration=configuration,
            )
            .on_conflict_do_nothing()
            .returning(*COLUMNS)
        )
        return row_into(SessionRow, (await self.db.execute(stmt)).first())

    async def update_active(
        self,
        workspace: str,
        name: str,
        metadata: dict[str, Any] | None,
        configuration: dict[str, Any] | None,
    ) -> SessionRow | None:
        """Replace metadata / shallow-merge configuration of an active session.

        ``None`` when the session is missing or inactive. With nothing to change the row is
        still locked (see :meth:`hold_active`).
        """
        values: dict[str, Any] = {}
        if metadata is not None:
            values["metadata"] = metadata
        if configuration is not None:
            values["configuration"] = T.c.configuration.op("||")(configuration)
        if not values:
            return await self.hold_active(workspace, name)
        where = (T.c.workspace_name == workspace, T.c.name == name, T.c.is_active)
        stmt = update(T).where(*where).values(values).returning(*COLUMNS)
        return row_into(SessionRow, (await self.db.execute(stmt)).first())

    async def hold_active(self, workspace: str, name: str) -> SessionRow | None:
        """The active session, locked ``FOR SHARE`` until commit; ``None`` if missing/inactive.

        A concurrent DELETE (an UPDATE of the row) waits for this transaction, and a call that
        waited for a committed DELETE re-reads the row and finds it inactive: what this
        transaction then writes into the session is never purged after the 202.
        """
        stmt = (
            select(*COLUMNS)
            .where(T.c.workspace_name == workspace, T.c.name == name, T.c.is_active)
            .with_for_update(read=True)
        )
        return row_into(SessionRow, (await self.db.execute(stmt)).first())

    async def list_page(
        self,
        workspace: str,
        filters: Mapping[str, Any] | None,
        *,
        page: int,
        size: int,
        reverse: bool,
    ) -> tuple[list[SessionRow], int]:
        stmt = select(*COLUMNS).where(T.c.workspace_name == workspace, T.c.is_active)
        where = build_filter(filters, SESSION_FILTERS)
        if where is not None:
            stmt = stmt.where(where)
        return await fetch_page_into(
            SessionRow, self.db, stmt, _order(reverse), page=page, size=size
        )

    async def list_for_peer(
        self,
        workspace: str,
        peer: str,
        filters: Mapping[str, Any] | None,
        *,
        page: int,
        size: int,
        reverse: bool,
    ) -> tuple[list[SessionRow], int]:
        """Active sessions the peer has ever been a member of (including ones it left)."""
        member = (
            select(M.c.session_name)
            .where(
                M.c.workspace_name == workspace,
                M.c.peer_name == peer,
                M.c.session_name == T.c.name,
            )
            .exists()
        )
        stmt = select(*COLUMNS).where(T.c.workspace_name == workspace, T.c.is_active, member)
        where = build_filter(filters, SESSION_FILTERS)
        if where is not None:
            stmt = stmt.where(where)
        return await fetch_page_into(
            SessionRow, self.db, stmt, _order(reverse), page=page, size=size
        )


def _order(reverse: bool) -> tuple[Any, ...]:
    return (T.c.created_at.desc(), T.c.id.desc()) if reverse else (T.c.created_at, T.c.id)
