"""The optional ``Idempotency-Key`` header of the routes that create (beyond upstream)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Header, Response
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.repositories.idempotency import KeyRef
from ..services.idempotency import KeyedRequest, fingerprint
from .deps import UnitOfWork

T = TypeVar("T")

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description=(
            "Optional. A retry sent with the same key gets the first response back (same "
            "status and body) instead of creating anything twice; the same key with a "
            "different request is a 422, and a retry while the first request is still "
            "running is a 409. Keys are kept for IDEMPOTENCY_KEY_TTL_SECONDS (24 h)."
        ),
    ),
]

REPLAYED_HEADER = "Idempotent-Replayed"


async def create_once(
    uow: UnitOfWork,
    key: str | None,
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    workspace: str,
    route: str,
    request: Any,
    files: tuple[bytes, ...] = (),
    response_type: type[T],
    status: int,
) -> T | Response:
    """Run ``work`` in a restartable unit of work; with a ``key``, at most once per key.

    ``request`` (JSON-able: the path ids, query and body) and ``files`` identify the request.
    With a key the response is the stored one, rendered as the route's ``response_type``.
    """
    if key is None:
        return await uow.run(work)
    keyed = KeyedRequest(KeyRef(workspace, key, route), fingerprint(request, *files))
    outcome = await uow.run_once(keyed, work, TypeAdapter(response_type).dump_json, status=status)
    return Response(
        outcome.body,
        status_code=outcome.status,
        media_type="application/json",
        headers={REPLAYED_HEADER: "true"} if outcome.replayed else None,
    )
