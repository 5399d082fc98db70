"""Webhook events, queued where they happen: one ``deliver_webhook`` job per endpoint of the
workspace registered then (the delivery itself is ``worker/kinds/webhooks.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from ..ids import new_id
from .payloads import WebhookEvent
from .repository import QueueRepository

QueueType = Literal["representation", "summary"]


def new_event(type_: str, data: dict[str, Any]) -> WebhookEvent:
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return WebhookEvent(id=new_id(), type=type_, data=data, timestamp=stamp)


async def enqueue_event(db: AsyncSession, workspace: str, event: WebhookEvent) -> int:
    """One delivery job per endpoint of ``workspace`` (in the caller's transaction)."""
    return await QueueRepository(db).fan_out_webhook(workspace, event.model_dump(mode="json"))


async def enqueue_test_event(db: AsyncSession, workspace: str) -> int:
    return await enqueue_event(db, workspace, new_event("test.event", {"workspace_id": workspace}))


async def enqueue_queue_empty(
    db: AsyncSession,
    workspace: str,
    queue_type: QueueType,
    session: str | None,
    observer: str | None,
    observed: str | None,
) -> int:
    """``queue.empty`` for a drained work unit; missing values are sent as JSON ``null``."""
    data = {
        "workspace_id": workspace,
        "queue_type": queue_type,
        "session_id": session,
        "observer": observer,
        "observed": observed,
    }
    return await enqueue_event(db, workspace, new_event("queue.empty", data))
