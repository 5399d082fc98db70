"""The one query behind session context: the newest messages whose tokens fit a budget."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, Text, bindparam, column, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from .paging import AnyRow

FIRST_SCAN = 256
SCAN_GROWTH = 8

# Running totals newest-first over the newest `scan` (id, token_count) pairs — an index-only
# scan of ix_messages_session_tokens that stops after `scan` entries. Token counts are never
# negative, so `total <= budget` keeps exactly the newest prefix that fits. The window is
# settled when something in it overflowed or it held every message; only then are the rows
# that fit read in full (an unsettled pass answers one row, `settled` false, and the caller
# widens the window). One `settled` row with no message: settled, and nothing fits.
_NEWEST_WITHIN = (
    text(
        """
    WITH newest AS (
        SELECT id, token_count FROM messages
        WHERE workspace_name = :workspace AND session_name = :session AND id > :after
        ORDER BY id DESC
        LIMIT :scan
    ), running AS (
        SELECT id, sum(token_count) OVER (ORDER BY id DESC ROWS UNBOUNDED PRECEDING) AS total
        FROM newest
    ), state AS (
        SELECT count(*) < :scan OR coalesce(max(total) > :budget, true) AS settled
        FROM running
    ), fits AS (
        SELECT r.id FROM running r, state
        WHERE state.settled AND r.total <= :budget
          AND EXISTS (
            SELECT 1 FROM sessions s
            WHERE s.workspace_name = :workspace AND s.name = :session AND s.is_active
          )
    )
    SELECT state.settled, m.id, m.public_id, m.workspace_name, m.session_name, m.peer_name,
           m.content, m.token_count, m.metadata, m.created_at
    FROM state
    LEFT JOIN (fits JOIN messages m ON m.id = fits.id) ON true
    ORDER BY m.id
    """
    )
    .bindparams(
        bindparam("after", type_=Integer),
        bindparam("budget", type_=Integer),
        bindparam("scan", type_=Integer),
    )
    .columns(
        column("settled", Boolean),
        column("id", BigInteger),
        column("public_id", Text),
        column("workspace_name", Text),
        column("session_name", Text),
        column("peer_name", Text),
        column("content", Text),
        column("token_count", Integer),
        column("metadata", JSONB),
        column("created_at", DateTime(timezone=True)),
    )
)


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
        scan = FIRST_SCAN
        while True:
            rows = (await self.db.execute(_NEWEST_WITHIN, {**params, "scan": scan})).all()
            if rows[0].settled:
                return [r for r in rows if r.id is not None]
            scan *= SCAN_GROWTH
