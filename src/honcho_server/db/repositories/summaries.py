"""SQL for the ``summaries`` table (one row per session and kind: short / long)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Session, Summary, table

T = table(Summary)
S = table(Session)
COLUMNS = (
    T.c.kind,
    T.c.content,
    T.c.message_id,
    T.c.message_public_id,
    T.c.token_count,
    T.c.created_at,
)


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """A stored summary (the columns of ``COLUMNS``, in order)."""

    kind: str
    content: str
    message_id: int
    message_public_id: str
    token_count: int
    created_at: datetime


class SummaryRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def for_session(self, workspace: str, session: str) -> dict[str, SummaryRow]:
        """The stored summaries of an active session, keyed by kind ("short", "long")."""
        stmt = (
            select(*COLUMNS)
            .join(S, (S.c.workspace_name == T.c.workspace_name) & (S.c.name == T.c.session_name))
            .where(T.c.workspace_name == workspace, T.c.session_name == session, S.c.is_active)
        )
        return {row.kind: SummaryRow(*row) for row in (await self.db.execute(stmt)).all()}

    async def save(
        self,
        workspace: str,
        session: str,
        kind: str,
        *,
        content: str,
        message_id: int,
        message_public_id: str,
        token_count: int,
        created_at: datetime | None = None,
    ) -> None:
        """Replace the session's summary of this kind."""
        values = {
            "workspace_name": workspace,
            "session_name": session,
            "kind": kind,
            "content": content,
            "message_id": message_id,
            "message_public_id": message_public_id,
            "token_count": token_count,
        }
        if created_at is not None:
            values["created_at"] = created_at
        stmt = insert(T).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[T.c.workspace_name, T.c.session_name, T.c.kind],
            set_={
                k: stmt.excluded[k]
                for k in values
                if k not in {"workspace_name", "session_name", "kind"}
            }
            | ({} if created_at is not None else {"created_at": stmt.excluded.created_at}),
        )
        await self.db.execute(stmt)
