"""Routes: scopes — named groups of sessions (not in the 3.0.12 OpenAPI; shapes from the SDKs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from ...schemas.pagination import Page
from ...schemas.scopes import Scope, ScopeCreate, ScopeSessionsAdd, ScopeStatus
from ...schemas.sessions import Session
from ...services.scopes import ScopeService
from ..deps import DbSession, Listing
from .status import created_or_ok

router = APIRouter(tags=["scopes"])

BASE = "/workspaces/{workspace_id}/scopes"
SCOPE = BASE + "/{scope_id}"


async def _service(db: DbSession) -> ScopeService:
    return ScopeService(db)


Scopes = Annotated[ScopeService, Depends(_service)]


@router.post(BASE, response_model=Scope, status_code=200)
async def get_or_create_scope(
    workspace_id: str, body: ScopeCreate, service: Scopes, response: Response
) -> Scope:
    scope, created = await service.get_or_create(workspace_id, body)
    created_or_ok(response, created)
    return scope


@router.post(BASE + "/list", response_model=Page[Scope])
async def get_scopes(workspace_id: str, service: Scopes, paging: Listing) -> Page[Scope]:
    return await service.list_scopes(workspace_id, paging)


@router.get(SCOPE, response_model=Scope)
async def get_scope(workspace_id: str, scope_id: str, service: Scopes) -> Scope:
    return await service.get(workspace_id, scope_id)


@router.post(SCOPE + "/sessions", status_code=204)
async def add_sessions_to_scope(
    workspace_id: str, scope_id: str, body: ScopeSessionsAdd, service: Scopes
) -> Response:
    await service.add_sessions(workspace_id, scope_id, body.session_ids)
    return Response(status_code=204)


@router.post(SCOPE + "/sessions/list", response_model=Page[Session])
async def get_scope_sessions(
    workspace_id: str, scope_id: str, service: Scopes, paging: Listing
) -> Page[Session]:
    return await service.list_sessions(workspace_id, scope_id, paging)


@router.delete(SCOPE + "/sessions/{session_id}", status_code=204)
async def remove_session_from_scope(
    workspace_id: str, scope_id: str, session_id: str, service: Scopes
) -> Response:
    await service.remove_session(workspace_id, scope_id, session_id)
    return Response(status_code=204)


@router.get(SCOPE + "/status", response_model=ScopeStatus, response_model_exclude_none=True)
async def get_scope_status(workspace_id: str, scope_id: str, service: Scopes) -> ScopeStatus:
    return await service.status(workspace_id, scope_id)
