"""Workspaces: get-or-create, update, list."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.repositories.workspaces import WorkspaceRepository
from ..db.session import autocommit_reads
from ..errors import Conflict, NotFound
from ..ids import require_valid_name
from ..schemas.pagination import Page
from ..schemas.workspaces import Workspace, WorkspaceCreate, WorkspaceUpdate
from . import views
from .paging import PageRequest, to_page


async def get_or_create(db: AsyncSession, body: WorkspaceCreate) -> tuple[Workspace, bool]:
    """An existing workspace is returned unchanged; the body only seeds a new one. Finding it
    is one autocommit SELECT; only a missing one takes the transaction."""
    repo = WorkspaceRepository(db)
    async with autocommit_reads(db):
        found = await repo.get(body.id)
    if found is not None:
        _refuse_if_deleting(found.deleted_at is not None, body.id)
        return views.workspace(found), False
    row = await repo.create_if_missing(body.id, body.metadata, body.configuration.stored())
    if row is not None:
        return views.workspace(row), True
    existing = await repo.get(body.id)
    if existing is None:  # deleted between the two statements: create it after all
        row = await repo.upsert(body.id, body.metadata, body.configuration.stored())
        return views.workspace(row), True
    _refuse_if_deleting(existing.deleted_at is not None, body.id)
    return views.workspace(existing), False


def _refuse_if_deleting(deleting: bool, name: str) -> None:
    if deleting:
        raise Conflict(f"Workspace {name} is being deleted; retry once the deletion completes")


async def get(db: AsyncSession, name: str) -> Workspace:
    """An existing workspace (404 when absent or being deleted)."""
    row = await WorkspaceRepository(db).get(name)
    if row is None or row.deleted_at is not None:
        raise NotFound(f"Workspace {name} not found")
    return views.workspace(row)


async def update(db: AsyncSession, name: str, body: WorkspaceUpdate) -> Workspace:
    require_valid_name(name, "workspace")
    config = body.configuration.stored() if body.configuration is not None else None
    repo = WorkspaceRepository(db)
    existing = await repo.get(name)
    _refuse_if_deleting(existing is not None and existing.deleted_at is not None, name)
    row = await repo.upsert(name, body.metadata, config)
    return views.workspace(row)


async def list_workspaces(
    db: AsyncSession, filters: dict[str, Any] | None, req: PageRequest
) -> Page[Workspace]:
    result = await WorkspaceRepository(db).list_page(
        filters, page=req.page, size=req.size, reverse=req.reverse
    )
    return to_page(result, views.workspace, req)
