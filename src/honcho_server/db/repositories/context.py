"""The one query behind session context: the newest messages whose tokens fit a budget."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from . import raw
from .messages import MessageRow
from .paging import AnyRow

FIRST_SCAN = 256
SCAN_GROWTH = 8

# Running totals newest-first over the newest `scan` (id, token_count) pairs — an index-only
# scan of ix_messages_session_tokens that stops after `scan` entries. Token counts are never
# negative, so `total <= budget` keeps exactly the newest prefix that fits. The window is
# settled when something in it overflowed or it held every message; only then are the rows
# that fit read in full (an unsettled pass answers one row, `settled` false, and the caller
# widens the window). One `settled` row with no message: settled, and nothing fits.
_SQL = """
    WITH newest AS (
        SELECT id, token_count FROM messages
        WHERE workspace_name = {workspace} AND session_name = {session} AND id > {after}
        ORDER BY id DESC
        LIMIT {scan}
    ), running AS (
        SELECT id, sum(token_count) OVER (ORDER BY id DESC ROWS UNBOUNDED PRECEDING) AS total
        FROM newest
    ), state AS (
        SELECT count(*) < {scan} OR coalesce(max(total) > {budget}, true) AS settled
        FROM running
    ), fits AS (
        SELECT r.id FROM running r, state
        WHERE state.settled AND r.total <= {budget}
          AND EXISTS (
            SELECT 1 FROM sessions s
            WHERE s.workspace_name = {workspace} AND s.name = {session} AND s.is_active
          )
    )
    SELECT state.settled, m.id, m.public_id, m.workspace_name, m.session_name, m.peer_name,
           m.content, m.token_count, m.metadata, m.created_at
    FROM state
    LEFT JOIN (fits JOIN messages m ON m.id = fits.id) ON true
    ORDER BY m.id
"""
_ORDER = ("workspace", "session", "after", "budget", "scan")
_NEWEST_WITHIN = text(_SQL.format(**{k: f":{k}" for k in _ORDER}))
# The same statement for asyncpg itself (typed parameters, positional).
_NEWEST_WITHIN_RAW = _SQL.format(
    workspace="$1::text",
    session="$2::text",
    after="$3::bigint",
    budget="$4::bigint",
    scan="$5::bigint",
)


Fetch = Callable[[int], Awaitable[Sequence[Any]]]


async def _settled(fetch: Fetch) -> Sequence[Any]:
    """Widen the window until it is settled; the settled pass's rows (see :data:`_SQL`)."""
    scan = FIRST_SCAN
    while True:
        rows = await fetch(scan)
        if rows[0][0]:
            return rows
        scan *= SCAN_GROWTH


class ContextRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def newest_within(
        self, workspace: str, session: str, *, after_id: int, budget: int
    ) -> list[AnyRow]:
        """Messages after internal id ``after_id``: the newest that fit ``budget``, oldest first.

        Looks at the newest ``FIRST_SCAN`` messages first and widens the window only while
        every message it saw still fit (typical contexts need one short index scan); only the
        rows returned are ever read in full.
        """
        if budget <= 0:
            return []
        params = {"workspace": workspace, "session": session, "after": after_id, "budget": budget}

        async def fetch(scan: int) -> Sequence[AnyRow]:
            return (await self.db.execute(_NEWEST_WITHIN, {**params, "scan": scan})).all()

        return [r for r in await _settled(fetch) if r.id is not None]

    async def newest_messages(
        self, workspace: str, session: str, *, after_id: int, budget: int
    ) -> list[MessageRow]:
        """:meth:`newest_within` as typed rows, read through asyncpg itself (:mod:`.raw`): a
        long context (thousands of rows) skips SQLAlchemy's statement execution and row
        objects, which cost more than the rest of the request."""
        if budget <= 0:
            return []

        async def fetch(scan: int) -> Sequence[Any]:
            return await raw.fetch(
                self.db, _NEWEST_WITHIN_RAW, workspace, session, after_id, budget, scan
            )

        return [MessageRow(*r[1:]) for r in await _settled(fetch) if r[1] is not None]
