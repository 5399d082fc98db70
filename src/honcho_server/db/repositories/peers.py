"""SQL for the ``peers`` table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Text, bindparam, cast, literal, literal_column, null, select, union_all
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..filters import PEER_FILTERS, build_filter, peer_filters
from ..models import Peer, Scope, Workspace, table
from ..read_pool import ReadPool
from .paging import fetch_page_into, row_into
from .raw import Compiled

T = table(Peer)
COLUMNS = (T.c.id, T.c.workspace_name, T.c.name, T.c.metadata, T.c.configuration, T.c.created_at)
SC = table(Scope)
W = table(Workspace)

# Built once (the hot get-or-create read): no statement construction or cache-key walk per call.
_GET_LIVE = select(*COLUMNS).where(
    T.c.workspace_name == bindparam("ws"),
    T.c.name == bindparam("name"),
    T.c.deleted_at.is_(None),
    select(W.c.id).where(W.c.name == bindparam("ws"), W.c.deleted_at.is_(None)).exists(),
)
_FIND_LIVE = Compiled.of(_GET_LIVE)
HOT_READS = (_FIND_LIVE.sql,)  # run once on each new read-pool connection (db.warm_up)


@dataclass(frozen=True, slots=True)
class PeerRow:
    """A peer as read (the columns of ``COLUMNS``, in order). ``uid`` is set only for a
    scope's peer (``"s"`` + its scope row's id), which has no peer row of its own."""

    id: int
    workspace_name: str
    name: str
    metadata: dict[str, Any]
    configuration: dict[str, Any]
    created_at: datetime
    uid: str | None = None


async def find_live(reads: ReadPool, workspace: str, name: str) -> PeerRow | None:
    """:meth:`PeerRepository.get_live` on the read pool: one statement, no session."""
    row = await reads.first(_FIND_LIVE, ws=workspace, name=name)
    return row_into(PeerRow, row)


SCOPE_PEER_PREFIX = "scope."
SCOPE_PEER_CONFIGURATION = {"observe_me": False}
"""A scope as upstream lists it among peers (``kind``): the peer ``scope.<name>`` that observes
its sessions, with the scope's metadata and creation time. Here scopes live in their own table;
their peers are a view of it (no peer row, so no writes can reach them)."""


class PeerRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def ensure_many(self, workspace: str, names: Iterable[str]) -> None:
        """Create any of ``names`` that do not exist yet (message authors, session members).

        Rows go in sorted order so concurrent writers take index locks in the same order.
        """
        rows = [{"workspace_name": workspace, "name": n} for n in sorted(set(names))]
        if rows:
            await self.db.execute(insert(T).values(rows).on_conflict_do_nothing())

    async def get(self, workspace: str, name: str) -> PeerRow | None:
        stmt = select(*COLUMNS).where(
            T.c.workspace_name == workspace, T.c.name == name, T.c.deleted_at.is_(None)
        )
        return row_into(PeerRow, (await self.db.execute(stmt)).first())

    async def get_live(self, workspace: str, name: str) -> PeerRow | None:
        """The peer, if both it and its workspace are live (not being erased or deleted)."""
        return row_into(
            PeerRow, (await self.db.execute(_GET_LIVE, {"ws": workspace, "name": name})).first()
        )

    async def create_if_missing(
        self, workspace: str, name: str, metadata: dict[str, Any], configuration: dict[str, Any]
    ) -> PeerRow | None:
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
        return row_into(PeerRow, (await self.db.execute(stmt)).first())

    async def upsert(
        self,
        workspace: str,
        name: str,
        metadata: dict[str, Any] | None,
        configuration: dict[str, Any] | None,
    ) -> PeerRow:
        """Create if missing; non-null metadata / configuration replace the stored ones."""
        stmt = insert(T).values(
            workspace_name=workspace,
            name=name,
            metadata=metadata or {},
            configuration=configuration or {},
        )
        updates: dict[str, Any] = {"name": stmt.excluded.name}
        if metadata is not None:
            updates["metadata"] = stmt.excluded.metadata
        if configuration is not None:
            updates["configuration"] = stmt.excluded.configuration
        stmt = stmt.on_conflict_do_update(
            index_elements=[T.c.workspace_name, T.c.name], set_=updates
        )
        return PeerRow(*(await self.db.execute(stmt.returning(*COLUMNS))).one())

    async def list_page(
        self,
        workspace: str,
        filters: Mapping[str, Any] | None,
        *,
        page: int,
        size: int,
        reverse: bool,
        kind: Literal["scope", "all"] | None = None,
    ) -> tuple[list[PeerRow], int]:
        if kind is not None:
            return await self._list_with_scopes(
                workspace, filters, kind, page=page, size=size, reverse=reverse
            )
        stmt = select(*COLUMNS).where(T.c.workspace_name == workspace, T.c.deleted_at.is_(None))
        where = build_filter(filters, PEER_FILTERS)
        if where is not None:
            stmt = stmt.where(where)
        order = (T.c.created_at.desc(), T.c.id.desc()) if reverse else (T.c.created_at, T.c.id)
        return await fetch_page_into(PeerRow, self.db, stmt, order, page=page, size=size)

    async def _list_with_scopes(
        self,
        workspace: str,
        filters: Mapping[str, Any] | None,
        kind: Literal["scope", "all"],
        *,
        page: int,
        size: int,
        reverse: bool,
    ) -> tuple[list[PeerRow], int]:
        """Scope peers only, or every peer (regular ones first on a created_at tie)."""
        scopes = select(
            SC.c.id,
            literal("s").op("||")(cast(SC.c.id, Text)).label("uid"),
            SC.c.workspace_name,
            literal(SCOPE_PEER_PREFIX).op("||")(SC.c.name).label("name"),
            SC.c.metadata,
            literal_column("'" + '{"observe_me": false}' + "'::jsonb").label("configuration"),
            SC.c.created_at,
            literal(1).label("rank"),
        ).where(SC.c.workspace_name == workspace)
        parts = [scopes]
        if kind == "all":
            regular = select(
                T.c.id,
                null().cast(Text).label("uid"),
                T.c.workspace_name,
                T.c.name,
                T.c.metadata,
                T.c.configuration,
                T.c.created_at,
                literal(0).label("rank"),
            ).where(T.c.workspace_name == workspace, T.c.deleted_at.is_(None))
            parts.insert(0, regular)
        u = union_all(*parts).subquery()
        stmt = select(  # PeerRow's fields, in order
            u.c.id,
            u.c.workspace_name,
            u.c.name,
            u.c.metadata,
            u.c.configuration,
            u.c.created_at,
            u.c.uid,
        )
        where = build_filter(
            filters, peer_filters(u.c.name, u.c.created_at, u.c.workspace_name, u.c.metadata)
        )
        if where is not None:
            stmt = stmt.where(where)
        key = (u.c.created_at, u.c.rank, u.c.id)
        order = tuple(c.desc() for c in key) if reverse else key
        return await fetch_page_into(PeerRow, self.db, stmt, order, page=page, size=size)
