"""SQL for the ``workspaces`` table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..filters import WORKSPACE_FILTERS, build_filter
from ..models import Workspace, table
from .paging import AnyRow, fetch_page

T = table(Workspace)
COLUMNS = (T.c.id, T.c.name, T.c.metadata, T.c.configuration, T.c.created_at)


class WorkspaceRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def ensure(self, name: str) -> None:
        """Create the workspace if it does not exist (implicit creation)."""
        await self.db.execute(insert(T).values(name=name).on_conflict_do_nothing())

    async def get(self, name: str) -> AnyRow | None:
        """The workspace row (with ``deleted_at``: set while a deletion is pending)."""
        stmt = select(*COLUMNS, T.c.deleted_at).where(T.c.name == name)
        return (await self.db.execute(stmt)).first()

    async def create_if_missing(
        self, name: str, metadata: dict[str, Any], configuration: dict[str, Any]
    ) -> AnyRow | None:
        """Insert and return the new row, or ``None`` when it already existed."""
        stmt = (
            insert(T)
            .values(name=name, metadata=metadata, configuration=configuration)
            .on_conflict_do_nothing()
            .returning(*COLUMNS)
        )
        return (await self.db.execute(stmt)).first()

    async def upsert(
        self, name: str, metadata: dict[str, Any] | None, configuration: dict[str, Any] | None
    ) -> AnyRow:
        """Create if missing; otherwise replace metadata and shallow-merge configuration."""
        stmt = insert(T).values(
            name=name, metadata=metadata or {}, configuration=configuration or {}
        )
        updates: dict[str, Any] = {"name": stmt.excluded.name}
        if metadata is not None:
            updates["metadata"] = stmt.excluded.metadata
        if configuration is not None:
            updates["configuration"] = T.c.configuration.op("||")(stmt.excluded.configuration)
        stmt = stmt.on_conflict_do_update(index_elements=[T.c.name], set_=updates)
        return (await self.db.execute(stmt.returning(*COLUMNS, T.c.deleted_at))).one()

    async def list_page(
        self, filters: Mapping[str, Any] | None, *, page: int, size: int, reverse: bool
    ) -> tuple[list[AnyRow], int]:
        stmt = select(*COLUMNS).where(T.c.deleted_at.is_(None))
        where = build_filter(filters, WORKSPACE_FILTERS)
        if where is not None:
            stmt = stmt.where(where)
        order = (T.c.created_at.desc(), T.c.id.desc()) if reverse else (T.c.created_at, T.c.id)
        return await fetch_page(self.db, stmt, order, page=page, size=size)
