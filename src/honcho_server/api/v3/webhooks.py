"""Routes: webhook endpoints of a workspace, and a test event."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from fastapi.exceptions import RequestValidationError

from ...schemas.pagination import Page
from ...schemas.webhooks import WebhookEndpoint, WebhookEndpointCreate, address_problem
from ...services.webhooks import WebhookService
from ..deps import DbSession, Paging, SettingsDep
from .status import created_or_ok

router = APIRouter(prefix="/workspaces/{workspace_id}/webhooks", tags=["webhooks"])

WorkspaceId = Annotated[str, Path(description="Workspace ID")]
EndpointId = Annotated[str, Path(description="Webhook endpoint ID")]


async def _service(db: DbSession, settings: SettingsDep) -> WebhookService:
    return WebhookService(
        db,
        max_per_workspace=settings.webhook_max_per_workspace,
        signing=settings.webhook_secret is not None,
    )


Webhooks = Annotated[WebhookService, Depends(_service)]


def _require_public(url: str, allow_private: bool) -> None:
    """Private addresses are refused like any other invalid field (a pydantic-style 422)."""
    problem = None if allow_private else address_problem(url)
    if problem is not None:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", "url"),
                    "msg": f"Value error, {problem}",
                    "input": url,
                }
            ]
        )


@router.post("", response_model=WebhookEndpoint, status_code=200)
async def get_or_create_webhook_endpoint(
    workspace_id: WorkspaceId,
    body: WebhookEndpointCreate,
    service: Webhooks,
    settings: SettingsDep,
    response: Response,
) -> WebhookEndpoint:
    """Get or create a webhook endpoint URL."""
    _require_public(body.url, settings.webhook_allow_private_urls)
    webhook, created = await service.get_or_create(workspace_id, body.url)
    created_or_ok(response, created)
    return webhook


@router.get("", response_model=Page[WebhookEndpoint])
async def list_webhook_endpoints(
    workspace_id: WorkspaceId, service: Webhooks, paging: Paging
) -> Page[WebhookEndpoint]:
    """List the workspace's webhook endpoints, oldest first."""
    return await service.list_endpoints(workspace_id, paging)


@router.get("/test")
async def test_emit(workspace_id: WorkspaceId, service: Webhooks) -> None:
    """Send a ``test.event`` to every endpoint of the workspace."""
    await service.emit_test(workspace_id)


@router.delete("/{endpoint_id}", status_code=204)
async def delete_webhook_endpoint(
    workspace_id: WorkspaceId, endpoint_id: EndpointId, service: Webhooks
) -> Response:
    """Delete a webhook endpoint (and the deliveries still waiting for it)."""
    await service.delete(workspace_id, endpoint_id)
    return Response(status_code=204)
