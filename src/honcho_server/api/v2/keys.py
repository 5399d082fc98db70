"""v2 keys and webhooks: v3's, with v2's 200 for deleting an endpoint."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from ...schemas.pagination import Page
from ...schemas.webhooks import WebhookEndpoint, WebhookEndpointCreate
from .common import Paging, V3Dep, body_of, paging
from .dispatch import path

router = APIRouter()

WEBHOOKS = "/workspaces/{workspace_id}/webhooks"


@router.post("/keys", tags=["keys"])
async def create_key(
    v3: V3Dep,
    workspace_id: Annotated[str | None, Query(description="Workspace to scope the key to")] = None,
    peer_id: Annotated[str | None, Query(description="Peer to scope the key to")] = None,
    session_id: Annotated[str | None, Query(description="Session to scope the key to")] = None,
    expires_at: datetime | None = None,
) -> Any:
    params = {
        "workspace_id": workspace_id,
        "peer_id": peer_id,
        "session_id": session_id,
        "expires_at": expires_at.isoformat() if expires_at is not None else None,
    }
    return await v3.json("POST", "/v3/keys", params=params)


@router.post(WEBHOOKS, response_model=WebhookEndpoint, tags=["webhooks"])
async def get_or_create_webhook_endpoint(
    workspace_id: str, body: WebhookEndpointCreate, request: Request, v3: V3Dep
) -> Any:
    url = path("workspaces", workspace_id, "webhooks")
    return await v3.json("POST", url, content=await body_of(request))


@router.get(WEBHOOKS, response_model=Page[WebhookEndpoint], tags=["webhooks"])
async def list_webhook_endpoints(workspace_id: str, v3: V3Dep, page: Paging) -> Any:
    url = path("workspaces", workspace_id, "webhooks")
    return await v3.json("GET", url, params=paging(page))


@router.get(WEBHOOKS + "/test", tags=["webhooks"])
async def test_emit(workspace_id: str, v3: V3Dep) -> Any:
    return await v3.json("GET", path("workspaces", workspace_id, "webhooks", "test"))


@router.delete(WEBHOOKS + "/{endpoint_id}", tags=["webhooks"])
async def delete_webhook_endpoint(workspace_id: str, endpoint_id: str, v3: V3Dep) -> Any:
    """v3 answers 204; v2 answers 200 with ``null``."""
    await v3.send("DELETE", path("workspaces", workspace_id, "webhooks", endpoint_id))
    return None
