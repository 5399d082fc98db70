"""SQL for the ``idempotency_keys`` table (its only writer)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import delete, func, literal, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import IdempotencyKey, table

T = table(IdempotencyKey)


@dataclass(frozen=True)
class KeyRef:
    """One key of one operation in one workspace."""

    workspace: str
    key: str
    route: str

    @property
    def lock_id(self) -> int:
        """The transaction-level advisory lock that marks this key in flight (64 bits of a
        hash: two keys sharing one only make each other wait for a retry)."""
        name = "\x1f".join(("idempotency", self.workspace, self.route, self.key)).encode()
        return int.from_bytes(hashlib.blake2b(name, digest_size=8).digest(), "big", signed=True)


@dataclass(frozen=True)
class StoredResponse:
    request_hash: str
    status: int
    body: bytes


@dataclass(frozen=True)
class Claim:
    """``in_flight``: another transaction holds the key now. ``stored``: the first response,
    if a request with this key has committed and its key has not expired."""

    in_flight: bool
    stored: StoredResponse | None


class IdempotencyRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def claim(self, ref: KeyRef, *, ttl: timedelta) -> Claim:
        """Take the key's advisory lock for this transaction (unless another holds it) and
        read the stored response, in one statement."""
        k = T.alias("k")
        stmt = select(
            func.pg_try_advisory_xact_lock(ref.lock_id),
            k.c.request_hash,
            k.c.status_code,
            k.c.response_body,
        ).select_from(
            select(literal(1).label("one"))
            .subquery("one")
            .outerjoin(
                k,
                (k.c.workspace_name == ref.workspace)
                & (k.c.key == ref.key)
                & (k.c.route == ref.route)
                & (k.c.created_at > func.now() - ttl),
            )
        )
        mine, request_hash, status, body = (await self.db.execute(stmt)).one()
        stored = None if request_hash is None else StoredResponse(request_hash, status, body)
        return Claim(in_flight=not mine, stored=stored)

    async def store(
        self, ref: KeyRef, request_hash: str, status: int, body: bytes, *, ttl: timedelta
    ) -> bool:
        """Record the response (replacing an expired one); False if a live one is there,
        committed by another transaction after :meth:`claim` looked."""
        stmt = insert(T).values(
            workspace_name=ref.workspace,
            key=ref.key,
            route=ref.route,
            request_hash=request_hash,
            status_code=status,
            response_body=body,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[T.c.workspace_name, T.c.key, T.c.route],
            set_={
                "request_hash": stmt.excluded.request_hash,
                "status_code": stmt.excluded.status_code,
                "response_body": stmt.excluded.response_body,
                "created_at": func.now(),
            },
            where=T.c.created_at <= func.now() - ttl,
        )
        return (await self.db.execute(stmt.returning(true()))).first() is not None

    async def purge_expired(self, ttl: timedelta) -> int:
        """Delete keys older than ``ttl``; returns how many were deleted."""
        result = await self.db.execute(delete(T).where(T.c.created_at <= func.now() - ttl))
        return int(cast(CursorResult[Any], result).rowcount)
