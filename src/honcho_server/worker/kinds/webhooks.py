"""Webhook delivery: one durable job per (event, endpoint), so each endpoint retries on its own.

An event is fanned out when it happens, in the caller's transaction, into one job per endpoint
registered then; each job carries the URL and the event, so delivering needs no database
read. The body is fixed at enqueue time (type, data, timestamp) and serialised the same way on
every attempt, so retries resend identical, identically signed bytes. 2xx is success; any
other status, a network error or a timeout raises, and the runner retries with backoff.
Delivery is at least once: ``X-Honcho-Event-Id`` is the same on every copy of one event.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Literal
from urllib.parse import urlsplit

import httpx

from ...queue import DeliverWebhook, WebhookEvent
from ...queue.events import QueueType as QueueType
from ...queue.events import enqueue_event as enqueue_event
from ...queue.events import enqueue_queue_empty as enqueue_queue_empty
from ...queue.events import enqueue_test_event as enqueue_test_event
from ...queue.events import new_event as new_event
from ...settings import Settings
from ..context import JobContext

KIND: Literal["deliver_webhook"] = "deliver_webhook"
MAX_ATTEMPTS = DeliverWebhook.max_attempts
CONNECT_TIMEOUT_SECONDS = 10.0
SIGNATURE_HEADER = "X-Honcho-Signature"
EVENT_ID_HEADER = "X-Honcho-Event-Id"


class WebhookNotConfigured(RuntimeError):
    """No WEBHOOK_SECRET: nothing is sent unsigned, and the job stays visible as failed."""


class DeliveryFailed(RuntimeError):
    pass


def encode(event: WebhookEvent) -> bytes:
    """The exact body: sorted keys, no whitespace (nulls stay ``null``)."""
    body = event.model_dump(exclude={"id"})
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _settings(ctx: JobContext) -> Settings:
    return ctx.services.settings


def _origin(url: str) -> str:
    """Scheme and host only: paths and query strings may carry tokens."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


async def post(url: str, body: bytes, headers: dict[str, str], total_seconds: float) -> None:
    """POST ``body``; raise unless the answer is 2xx within ``total_seconds``."""
    headers = {"Content-Type": "application/json", **headers}
    limits = httpx.Timeout(total_seconds, connect=min(CONNECT_TIMEOUT_SECONDS, total_seconds))
    try:
        # Streamed and never read: a receiver's (possibly huge) response body is ignored.
        async with (
            asyncio.timeout(total_seconds),
            httpx.AsyncClient(timeout=limits) as client,
            client.stream("POST", url, content=body, headers=headers) as response,
        ):
            status = response.status_code
    except (TimeoutError, httpx.TimeoutException):
        raise DeliveryFailed(f"{_origin(url)} did not answer within {total_seconds:g} s") from None
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{_origin(url)}: {type(exc).__name__}: {exc}") from exc
    if not 200 <= status < 300:
        raise DeliveryFailed(f"{_origin(url)} answered HTTP {status}")


async def deliver_webhook(ctx: JobContext, payload: DeliverWebhook) -> None:
    """Send one event to one endpoint. Opens no transaction, so no database connection is
    held during the POST; the runner marks the job succeeded afterwards."""
    settings = _settings(ctx)
    secret = (
        settings.webhook_secret.get_secret_value() if settings.webhook_secret is not None else ""
    )
    if not secret:
        raise WebhookNotConfigured(
            "WEBHOOK_SECRET is not set, so webhooks are not sent; set it and retry the job"
        )
    body = encode(payload.event)
    headers = {SIGNATURE_HEADER: sign(body, secret), EVENT_ID_HEADER: payload.event.id}
    await post(payload.url, body, headers, settings.webhook_timeout_seconds)
