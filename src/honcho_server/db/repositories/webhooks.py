"""SQL for the ``webhook_endpoints`` table (deliveries are queue jobs: see ``queue``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import WebhookEndpoint, Workspace, table
from .paging import fetch_page_into, row_into

T = table(WebhookEndpoint)
W = table(Workspace)
COLUMNS = (T.c.id, T.c.workspace_name, T.c.url, T.c.created_at)
ORDER = (T.c.created_at, T.c.id)


@dataclass(frozen=True, slots=True)
class EndpointRow:
    """A registered endpoint (the columns of ``COLUMNS``, in order)."""

    id: str
    workspace_name: str
    url: str
    created_at: datetime


class WebhookRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def lock_workspace(self, workspace: str) -> bool:
        """Lock a live workspace's row until commit, serialising registrations (so the
        per-workspace limit holds under concurrency); False if it is missing or being deleted.

        ``FOR NO KEY UPDATE`` still lets other transactions insert rows that reference it.
        """
        stmt = (
            select(W.c.id)
            .where(W.c.name == workspace, W.c.deleted_at.is_(None))
            .with_for_update(key_share=True)
        )
        return (await self.db.execute(stmt)).first() is not None

    async def get_by_url(self, workspace: str, url: str) -> EndpointRow | None:
        stmt = select(*COLUMNS).where(T.c.workspace_name == workspace, T.c.url == url)
        return row_into(EndpointRow, (await self.db.execute(stmt)).first())

    async def count(self, workspace: str) -> int:
        stmt = select(func.count()).where(T.c.workspace_name == workspace)
        return int(await self.db.scalar(stmt) or 0)

    async def create(self, endpoint_id: str, workspace: str, url: str) -> EndpointRow:
        stmt = (
            insert(T).values(id=endpoint_id, workspace_name=workspace, url=url).returning(*COLUMNS)
        )
        return EndpointRow(*(await self.db.execute(stmt)).one())

    async def list_page(
        self, workspace: str, *, page: int, size: int
    ) -> tuple[list[EndpointRow], int]:
        stmt = select(*COLUMNS).where(T.c.workspace_name == workspace)
        return await fetch_page_into(EndpointRow, self.db, stmt, ORDER, page=page, size=size)

    async def delete(self, workspace: str, endpoint_id: str) -> bool:
        stmt = (
            delete(T)
            .where(T.c.workspace_name == workspace, T.c.id == endpoint_id)
            .returning(T.c.id)
        )
        return (await self.db.execute(stmt)).first() is not None
