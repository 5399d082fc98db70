"""Webhook endpoints: get-or-create within the per-workspace limit, list, delete, test event."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.repositories.webhooks import EndpointRow, WebhookRepository
from ..errors import Conflict, NotFound
from ..ids import new_id
from ..queue import QueueRepository, enqueue_test_event
from ..schemas.pagination import Page
from ..schemas.webhooks import WebhookEndpoint
from .paging import PageRequest, to_page

log = logging.getLogger(__name__)

NO_SECRET_WARNING = (
    "WEBHOOK_SECRET is not set: webhook endpoints can be registered, but no event is sent "
    "until it is (their delivery jobs fail with that reason and can be retried)"
)


def endpoint(row: EndpointRow) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row.id, workspace_id=row.workspace_name, url=row.url, created_at=row.created_at
    )


class WebhookService:
    def __init__(self, db: AsyncSession, *, max_per_workspace: int, signing: bool) -> None:
        self.db = db
        self.repo = WebhookRepository(db)
        self.max_per_workspace = max_per_workspace
        self.signing = signing

    async def get_or_create(self, workspace: str, url: str) -> tuple[WebhookEndpoint, bool]:
        """The endpoint already registered for ``url``, or a new one (True) within the limit."""
        if not await self.repo.lock_workspace(workspace):
            raise NotFound(f"Workspace {workspace} not found")
        existing = await self.repo.get_by_url(workspace, url)
        if existing is not None:
            return endpoint(existing), False
        if await self.repo.count(workspace) >= self.max_per_workspace:
            raise Conflict(
                f"Maximum number of webhook endpoints ({self.max_per_workspace}) reached "
                f"for workspace {workspace}"
            )
        self._warn_if_unsigned()
        return endpoint(await self.repo.create(new_id(), workspace, url)), True

    async def list_endpoints(self, workspace: str, req: PageRequest) -> Page[WebhookEndpoint]:
        result = await self.repo.list_page(workspace, page=req.page, size=req.size)
        return to_page(result, endpoint, req)

    async def delete(self, workspace: str, endpoint_id: str) -> None:
        """Remove the endpoint and the deliveries still waiting for it."""
        if not await self.repo.delete(workspace, endpoint_id):
            raise NotFound(f"Webhook endpoint {endpoint_id} not found")
        await QueueRepository(self.db).cancel(
            workspace, kind="deliver_webhook", endpoint_id=endpoint_id
        )

    async def emit_test(self, workspace: str) -> None:
        """Queue a ``test.event`` for every endpoint of the workspace (none: nothing to do)."""
        if await enqueue_test_event(self.db, workspace):
            self._warn_if_unsigned()

    def _warn_if_unsigned(self) -> None:
        if not self.signing:
            log.warning(NO_SECRET_WARNING)
