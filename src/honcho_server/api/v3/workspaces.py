from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from ...auth import checks
from ...schemas.pagination import Page
from ...schemas.workspaces import Workspace, WorkspaceCreate, WorkspaceGet, WorkspaceUpdate
from ...services import lifecycle, workspaces
from ..deps import DbSession, Listing, PrincipalDep, ReadDb
from .status import created_or_ok

router = APIRouter(prefix="/workspaces", tags=["workspaces"])


@router.post("", response_model=Workspace, status_code=200)
async def get_or_create_workspace(
    body: WorkspaceCreate, db: DbSession, response: Response, principal: PrincipalDep
) -> Workspace:
    checks.authorize_workspace_create(principal, body.id)
    workspace, created = await workspaces.get_or_create(db, body)
    created_or_ok(response, created)
    return workspace


@router.post("/list", response_model=Page[Workspace])
async def get_all_workspaces(
    db: ReadDb, paging: Listing, options: Annotated[WorkspaceGet | None, Body()] = None
) -> Page[Workspace]:
    return await workspaces.list_workspaces(db, options.filters if options else None, paging)


@router.get("/{workspace_id}", response_model=Workspace)
async def get_workspace(workspace_id: str, db: ReadDb) -> Workspace:
    """Beyond upstream (which has only get-or-create): read a workspace without creating it,
    404 when absent or being deleted. The Rust SDK's ``refresh()``, ``get_metadata()`` and
    ``get_configuration()`` call it."""
    return await workspaces.get(db, workspace_id)


@router.put("/{workspace_id}", response_model=Workspace)
async def update_workspace(workspace_id: str, body: WorkspaceUpdate, db: DbSession) -> Workspace:
    return await workspaces.update(db, workspace_id, body)


@router.delete("/{workspace_id}", status_code=202)
async def delete_workspace(workspace_id: str, db: DbSession) -> dict[str, str]:
    """Hidden at once (409 while it has active sessions); purged by a background job."""
    await lifecycle.delete_workspace(db, workspace_id)
    return {"message": "Workspace deletion accepted"}
