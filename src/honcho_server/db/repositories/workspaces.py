"""SQL for the ``workspaces`` table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, exists, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ...errors import Conflict
from ..filters import WORKSPACE_FILTERS, build_filter
from ..models import Workspace, table
from .paging import fetch_page_into, row_into

T = table(Workspace)
COLUMNS = (T.c.id, T.c.name, T.c.metadata, T.c.configuration, T.c.created_at)

# Runs of :meth:`WorkspaceRepository.ensure` before giving up on a workspace that neither
# exists in its snapshot nor can be inserted (created, then purged, by others meanwhile).
_ENSURE_RUNS = 3

_GET = select(*COLUMNS, T.c.deleted_at).where(T.c.name == bindparam("name"))  # built once


@dataclass(frozen=True, slots=True)
class WorkspaceRow:
    """A workspace as read (the columns of ``COLUMNS``, in order); ``deleted_at`` is set while
    its deletion is pending (read by :meth:`WorkspaceRepository.get` and ``upsert``)."""

    id: int
    name: str
    metadata: dict[str, Any]
    configuration: dict[str, Any]
    created_at: datetime
    deleted_at: datetime | None = None


class WorkspaceDeleting(Conflict):
    """409 for a write into a workspace whose deletion is pending: it reads as absent, but its
    name stays taken until the purge has removed it."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Workspace {name} is being deleted; retry once the deletion completes")


class WorkspaceRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def ensure(self, name: str) -> None:
        """Create the workspace if it does not exist (implicit creation) and hold it until
        commit; :class:`WorkspaceDeleting` while a deletion is pending.

        An existing live workspace is locked ``FOR SHARE``: a concurrent DELETE (an UPDATE of
        the row) waits for this transaction, and a call that waited for a committed DELETE
        re-reads the row and sees its tombstone. So nothing written after this call lands in
        a workspace whose deletion was already acknowledged.
        """
        created = insert(T).values(name=name).on_conflict_do_nothing().returning(T.c.id).cte()
        held = self._live(name).with_for_update(read=True).cte()
        stmt = select(
            or_(exists(select(created.c.id)), exists(select(held.c.id))),
            exists(select(T.c.id).where(T.c.name == name, T.c.deleted_at.is_not(None))),
        )
        for _ in range(_ENSURE_RUNS):
            usable, deleting = (await self.db.execute(stmt)).one()
            if usable:
                return
            if deleting:
                raise WorkspaceDeleting(name)
        raise Conflict(f"Workspace {name} was created and removed concurrently; please retry")

    async def hold(self, name: str) -> bool:
        """Lock a live workspace ``FOR SHARE`` until commit (see :meth:`ensure`); False if it
        is missing or being deleted."""
        stmt = self._live(name).with_for_update(read=True)
        return (await self.db.execute(stmt)).first() is not None

    @staticmethod
    def _live(name: str) -> Select[tuple[int]]:
        return select(T.c.id).where(T.c.name == name, T.c.deleted_at.is_(None))

    async def get(self, name: str) -> WorkspaceRow | None:
        """The workspace row (with ``deleted_at``: set while a deletion is pending)."""
        return row_into(WorkspaceRow, (await self.db.execute(_GET, {"name": name})).first())

    async def create_if_missing(
        self, name: str, metadata: dict[str, Any], configuration: dict[str, Any]
    ) -> WorkspaceRow | None:
        """Insert and return the new row, or ``None`` when it already existed."""
        stmt = (
            insert(T)
            .values(name=name, metadata=metadata, configuration=configuration)
            .on_conflict_do_nothing()
            .returning(*COLUMNS)
        )
        return row_into(WorkspaceRow, (await self.db.execute(stmt)).first())

    async def upsert(
        self, name: str, metadata: dict[str, Any] | None, configuration: dict[str, Any] | None
    ) -> WorkspaceRow:
        """Create if missing; otherwise replace metadata and shallow-merge configuration.

        :class:`WorkspaceDeleting` for a workspace whose deletion is pending (checked on the
        row as locked by the update, so a DELETE committed meanwhile is seen).
        """
        stmt = insert(T).values(
            name=name, metadata=metadata or {}, configuration=configuration or {}
        )
        updates: dict[str, Any] = {"name": stmt.excluded.name}
        if metadata is not None:
            updates["metadata"] = stmt.excluded.metadata
        if configuration is not None:
            updates["configuration"] = T.c.configuration.op("||")(stmt.excluded.configuration)
        stmt = stmt.on_conflict_do_update(
            index_elements=[T.c.name], set_=updates, where=T.c.deleted_at.is_(None)
        )
        row = (await self.db.execute(stmt.returning(*COLUMNS, T.c.deleted_at))).first()
        if row is None:
            raise WorkspaceDeleting(name)
        return WorkspaceRow(*row)

    async def list_page(
        self, filters: Mapping[str, Any] | None, *, page: int, size: int, reverse: bool
    ) -> tuple[list[WorkspaceRow], int]:
        stmt = select(*COLUMNS).where(T.c.deleted_at.is_(None))
        where = build_filter(filters, WORKSPACE_FILTERS)
        if where is not None:
            stmt = stmt.where(where)
        order = (T.c.created_at.desc(), T.c.id.desc()) if reverse else (T.c.created_at, T.c.id)
        return await fetch_page_into(WorkspaceRow, self.db, stmt, order, page=page, size=size)
