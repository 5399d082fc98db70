"""Exactly-once creation with an ``Idempotency-Key`` header.

A request sent with a key runs in one transaction that first claims the key and finally
stores the response beside the data it wrote, so the two commit (or vanish) together. A retry
with the same key and the same request gets the stored response back, status and bytes, and
writes nothing; the same key with a different request is a 422, and while the first request
is still running a retry gets 409 (the semantics of the IETF draft "The Idempotency-Key HTTP
Header Field"). Keys expire after a bounded time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.repositories.idempotency import IdempotencyRepository, KeyRef
from ..db.session import Restart, run_unit_of_work
from ..errors import Conflict, Invalid

T = TypeVar("T")

IN_FLIGHT = "A request with this Idempotency-Key is still being processed; retry it later"
REUSED = "This Idempotency-Key was already used with a different request"


@dataclass(frozen=True)
class KeyedRequest:
    """A request sent with a key: ``fingerprint`` identifies everything it asks for."""

    ref: KeyRef
    fingerprint: str


@dataclass(frozen=True)
class Outcome:
    status: int
    body: bytes  # JSON
    replayed: bool


def fingerprint(request: Any, *files: bytes) -> str:
    """A hash of a JSON-able description of the request (path ids, query, body) and of any
    uploaded bytes; equal requests hash alike whatever their JSON formatting was."""
    digest = hashlib.sha256(
        json.dumps(request, sort_keys=True, separators=(",", ":"), default=str).encode()
    )
    for data in files:
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


async def run_once(
    factory: async_sessionmaker[AsyncSession],
    request: KeyedRequest,
    work: Callable[[AsyncSession], Awaitable[T]],
    render: Callable[[T], bytes],
    *,
    status: int,
    ttl: timedelta,
) -> Outcome:
    """Run ``work`` (whose result ``render`` turns into the ``status`` response's body) at
    most once per key, in a unit of work that is restarted like any other."""

    async def once(db: AsyncSession) -> Outcome:
        keys = IdempotencyRepository(db)
        claim = await keys.claim(request.ref, ttl=ttl)
        if claim.stored is not None:
            if claim.stored.request_hash != request.fingerprint:
                raise Invalid(REUSED)
            return Outcome(claim.stored.status, claim.stored.body, replayed=True)
        if claim.in_flight:
            raise Conflict(IN_FLIGHT)
        body = render(await work(db))
        if not await keys.store(request.ref, request.fingerprint, status, body, ttl=ttl):
            raise Restart  # the first request committed after the claim: replay it
        return Outcome(status, body, replayed=False)

    return await run_unit_of_work(factory, once)
