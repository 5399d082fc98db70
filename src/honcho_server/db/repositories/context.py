"""The one query behind session context: the newest messages whose tokens fit a budget."""

from __future__ import annotations

from sqlalchemy import Integer, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from .paging import AnyRow

# The running total is computed newest-first over (id, token_count) only — an index-only scan
# of ix_messages_session_tokens — and only the rows that fit are then read in full. Token
# counts are never negative, so `running <= budget` keeps exactly the newest prefix that fits
# (the scan stops being useful at the first overflow, and nothing after it can qualify).
_NEWEST_WITHIN = text(
    """
    WITH running AS (
        SELECT id, sum(token_count) OVER (ORDER BY id DESC ROWS UNBOUNDED PRECEDING) AS total
        FROM messages
        WHERE workspace_name = :workspace AND session_name = :session AND id > :after
    )
    SELECT m.id, m.public_id, m.workspace_name, m.session_name, m.peer_name, m.content,
           m.token_count, m.metadata, m.created_at
    FROM running r JOIN messages m ON m.id = r.id
    WHERE r.total <= :budget
      AND EXISTS (
        SELECT 1 FROM sessions s
        WHERE s.workspace_name = :workspace AND s.name = :session AND s.is_active
      )
    ORDER BY m.id
    """
).bindparams(bindparam("after", type_=Integer), bindparam("budget", type_=Integer))


class ContextRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def newest_within(
        self, workspace: str, session: str, *, after_id: int, budget: int
    ) -> list[AnyRow]:
        """Messages after internal id ``after_id``: the newest that fit ``budget``, oldest first."""
        if budget <= 0:
            return []
        params = {"workspace": workspace, "session": session, "after": after_id, "budget": budget}
        return list((await self.db.execute(_NEWEST_WITHIN, params)).all())
