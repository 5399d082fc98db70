"""SQL for the ``peer_cards`` table: one card per (observer, observed) pair."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Peer, PeerCard, table

T = table(PeerCard)
P = table(Peer)


class PeerCardRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get(
        self, workspace: str, observer: str, observed: str
    ) -> tuple[bool, list[str] | None]:
        """``(observer exists, card or None)`` in one round trip."""
        card = (T.c.workspace_name == P.c.workspace_name) & (T.c.observer == P.c.name)
        stmt = (
            select(T.c.entries)
            .select_from(P.outerjoin(T, card & (T.c.observed == observed)))
            .where(P.c.workspace_name == workspace, P.c.name == observer)
        )
        row = (await self.db.execute(stmt)).first()
        if row is None:
            return False, None
        entries: list[str] | None = row.entries
        return True, entries

    async def current(
        self, workspace: str, observer: str, observed: str
    ) -> tuple[list[str], datetime] | None:
        """The stored card and when it was last written, or None."""
        stmt = select(T.c.entries, T.c.updated_at).where(
            T.c.workspace_name == workspace, T.c.observer == observer, T.c.observed == observed
        )
        row = (await self.db.execute(stmt)).first()
        if row is None:
            return None
        return list(row.entries or []), row.updated_at

    async def put(
        self, workspace: str, observer: str, observed: str, entries: list[str]
    ) -> list[str]:
        """Replace (or create) the card; returns the stored entries."""
        stmt = insert(T).values(
            workspace_name=workspace, observer=observer, observed=observed, entries=entries
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[T.c.workspace_name, T.c.observer, T.c.observed],
            set_={"entries": stmt.excluded.entries, "updated_at": func.now()},
        )
        stored: list[str] = (await self.db.execute(stmt.returning(T.c.entries))).scalar_one()
        return stored
