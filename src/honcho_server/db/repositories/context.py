"""The one query behind session context: the newest messages whose tokens fit a budget."""

from __future__ import annotations

from sqlalchemy import Integer, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from .paging import AnyRow

FIRST_SCAN = 256
SCAN_GROWTH = 8

# Running totals newest-first over the newest `scan` (id, token_count) pairs — an index-only
# scan of ix_messages_session_tokens that stops after `scan` entries — then only the rows that
# fit are read in full. Token counts are never negative, so `total <= budget` keeps exactly the
# newest prefix that fits.
_NEWEST_WITHIN = text(
    """
    WITH newest AS (
        SELECT id, token_count FROM messages
        WHERE workspace_name = :workspace AND session_name = :session AND id > :after
        ORDER BY id DESC
        LIMIT :scan
    ), running AS (
        SELECT id,
               sum(token_count) OVER (ORDER BY id DESC ROWS UNBOUNDED PRECEDING) AS total,
               count(*) OVER () AS scanned
        FROM newest
    )
    SELECT m.id, m.public_id, m.workspace_name, m.session_name, m.peer_name, m.content,
           m.token_count, m.metadata, m.created_at, r.scanned
    FROM running r JOIN messages m ON m.id = r.id
    WHERE r.total <= :budget
      AND EXISTS (
        SELECT 1 FROM sessions s
        WHERE s.workspace_name = :workspace AND s.name = :session AND s.is_active
      )
    ORDER BY m.id
    """
).bindparams(
    bindparam("after", type_=Integer),
    bindparam("budget", type_=Integer),
    bindparam("scan", type_=Integer),
)


class ContextRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def newest_within(
        self, workspace: str, session: str, *, after_id: int, budget: int
    ) -> list[AnyRow]:
        """Messages after internal id ``after_id``: the newest that fit ``budget``, oldest first.

        Looks at the newest ``FIRST_SCAN`` messages first and widens the window only while
        every message it saw still fit (typical contexts need one short index scan).
        """
        if budget <= 0:
            return []
        params = {"workspace": workspace, "session": session, "after": after_id, "budget": budget}
        scan = FIRST_SCAN
        while True:
            rows = list((await self.db.execute(_NEWEST_WITHIN, {**params, "scan": scan})).all())
            scanned = int(rows[0].scanned) if rows else 0
            if len(rows) < scan or scanned < scan:  # something overflowed, or no more messages
                return rows
            scan *= SCAN_GROWTH
