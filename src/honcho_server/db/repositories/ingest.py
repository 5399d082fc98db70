"""The message-write hot path: everything a batch needs before its rows, in one statement."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import DEADLOCK, sqlstate

# Writers that create the same new workspace, session or peers at the same moment can
# deadlock inside the statement (its inserts have no defined order); Postgres aborts one of
# them, which then starts again.
_DEADLOCK_ATTEMPTS = 4

# One round trip that get-or-creates the workspace, the session and the authors, (re)joins the
# authors as members (left members rejoin with ``config``; active ones keep theirs) and reserves
# ``count`` sequence numbers. A new session is inserted with its counter already advanced; an
# existing active one is advanced under its row lock, which serialises writers to one session
# until commit and keeps ``seq_in_session`` gap-free. NULL means the session exists but is
# inactive. Authors arrive sorted so concurrent writers take index locks in one order.
_PREPARE = text(
    """
    WITH ws AS (
        INSERT INTO workspaces (name) VALUES (:workspace) ON CONFLICT DO NOTHING
    ), new_session AS (
        INSERT INTO sessions (workspace_name, name, last_seq)
        VALUES (:workspace, :session, :count)
        ON CONFLICT DO NOTHING
        RETURNING last_seq
    ), authors AS (
        INSERT INTO peers (workspace_name, name)
        SELECT :workspace, unnest(CAST(:authors AS text[]))
        ON CONFLICT DO NOTHING
    ), members AS (
        INSERT INTO session_peers (workspace_name, session_name, peer_name, configuration)
        SELECT :workspace, :session, unnest(CAST(:authors AS text[])), :config
        ON CONFLICT (workspace_name, session_name, peer_name) DO UPDATE
            SET configuration = EXCLUDED.configuration, joined_at = now(), left_at = NULL
            WHERE session_peers.left_at IS NOT NULL
    ), advanced AS (
        UPDATE sessions SET last_seq = last_seq + :count
        WHERE workspace_name = :workspace AND name = :session AND is_active
        RETURNING last_seq
    )
    SELECT coalesce((SELECT last_seq FROM new_session), (SELECT last_seq FROM advanced))
    """
).bindparams(
    bindparam("authors", type_=ARRAY(Text)),
    bindparam("config", type_=JSONB),
)


class IngestRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def prepare(
        self,
        workspace: str,
        session: str,
        authors: Sequence[str],
        member_config: dict[str, Any],
        count: int,
        *,
        restartable: bool = False,
    ) -> int | None:
        """Reserve ``count`` sequence numbers; returns the last one (``None``: inactive).

        If another transaction created the session while this statement ran, the session
        row is not in this statement's snapshot and nothing is advanced; the statement is
        idempotent, so it runs once more with a fresh snapshot that sees the committed row.

        ``restartable``: the transaction has written nothing yet, so when Postgres picks it
        as a deadlock victim it is rolled back and the statement retried (after a short random
        pause) instead of failing the request.
        """
        params = {
            "workspace": workspace,
            "session": session,
            "authors": sorted(set(authors)),
            "config": member_config,
            "count": count,
        }
        for attempt in range(1, _DEADLOCK_ATTEMPTS + 1):
            try:
                return await self._reserve(params)
            except DBAPIError as exc:
                if not restartable or sqlstate(exc) != DEADLOCK or attempt == _DEADLOCK_ATTEMPTS:
                    raise
                await self.db.rollback()
                await asyncio.sleep(random.uniform(0.002, 0.02) * attempt)
        raise AssertionError("unreachable")

    async def _reserve(self, params: dict[str, Any]) -> int | None:
        last: int | None = None
        for _ in range(2):
            last = (await self.db.execute(_PREPARE, params)).scalar_one()
            if last is not None:
                break
        return last
