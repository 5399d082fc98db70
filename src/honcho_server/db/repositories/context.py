"""The one query behind session context: the newest messages whose tokens fit a budget."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
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
           m.content, m.token_count, m.metadata, m.created_at, NULL::text AS kind
    FROM state
    LEFT JOIN (fits JOIN messages m ON m.id = fits.id) ON true
    UNION ALL
    SELECT true, su.message_id, su.message_public_id, NULL, NULL, NULL,
           su.content, su.token_count, NULL, su.created_at, su.kind
    FROM summaries su
    JOIN sessions s ON s.workspace_name = su.workspace_name AND s.name = su.session_name
    WHERE {summaries} AND su.workspace_name = {workspace} AND su.session_name = {session}
      AND s.is_active
    ORDER BY kind NULLS FIRST, id
"""
# With `summaries`, the session's stored summaries ride along as rows of their own (`kind`
# set; `id` and `public_id` are the last message each covers), after the state and messages.
_ORDER = ("workspace", "session", "after", "budget", "scan", "summaries")
_NEWEST_WITHIN = text(_SQL.format(**{k: f":{k}" for k in _ORDER}))
# The same statement for asyncpg itself (typed parameters, positional).
_NEWEST_WITHIN_RAW = _SQL.format(
    workspace="$1::text",
    session="$2::text",
    after="$3::bigint",
    budget="$4::bigint",
    scan="$5::bigint",
    summaries="$6::boolean",
)


@dataclass(frozen=True, slots=True)
class StoredSummary:
    kind: str  # "short" | "long"
    message_id: int  # internal id of the last message it covers
    message_public_id: str
    content: str
    token_count: int
    created_at: datetime


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
        params = {
            "workspace": workspace,
            "session": session,
            "after": after_id,
            "budget": budget,
            "summaries": False,
        }

        async def fetch(scan: int) -> Sequence[AnyRow]:
            return (await self.db.execute(_NEWEST_WITHIN, {**params, "scan": scan})).all()

        return [r for r in await _settled(fetch) if r.id is not None]

    async def newest_messages(
        self, workspace: str, session: str, *, after_id: int, budget: int, summaries: bool
    ) -> tuple[list[MessageRow] | None, list[StoredSummary]]:
        """:meth:`newest_within` as typed rows, read through asyncpg itself (:mod:`.raw`): a
        long context (thousands of rows) skips SQLAlchemy's statement execution and row
        objects, which cost more than the rest of the request.

        With ``summaries``, the first pass also reads the session's stored summaries (an
        active session's). When there are some and the window is not settled yet, the
        messages are left unread (``None``): which of them to read depends on the summary
        the caller chooses."""
        if budget <= 0:
            return [], []
        stored: list[StoredSummary] = []
        scan = FIRST_SCAN
        while True:
            args = (workspace, session, after_id, budget, scan, summaries)
            rows = await raw.fetch(self.db, _NEWEST_WITHIN_RAW, *args)
            settled = bool(rows[0][0])
            if summaries:
                stored = [StoredSummary(r[10], r[1], r[2], r[6], r[7], r[9]) for r in rows if r[10]]
                summaries = False
                if stored and not settled:
                    return None, stored
            if settled:
                found = [MessageRow(*r[1:10]) for r in rows if r[10] is None and r[1] is not None]
                return found, stored
            scan *= SCAN_GROWTH
