"""SQL for session membership (``session_peers``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Peer, Session, SessionPeer, table
from .paging import fetch_page_into
from .peers import COLUMNS as PEER_COLUMNS
from .peers import PeerRow

M = table(SessionPeer)
P = table(Peer)
S = table(Session)


class MemberRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def join(
        self, workspace: str, session: str, configs: Mapping[str, dict[str, Any]]
    ) -> None:
        """Add peers with the given configs.

        New members are inserted; members that had left rejoin with the given config; active
        members keep their config and ``joined_at``.
        """
        if not configs:
            return
        rows = [
            {
                "workspace_name": workspace,
                "session_name": session,
                "peer_name": peer,
                "configuration": config,
            }
            for peer, config in sorted(configs.items())  # one lock order for all writers
        ]
        stmt = insert(M).values(rows)
        stmt = stmt.on_conflict_do_update(
            index_elements=[M.c.workspace_name, M.c.session_name, M.c.peer_name],
            set_={
                "configuration": stmt.excluded.configuration,
                "joined_at": func.now(),
                "left_at": None,
            },
            where=M.c.left_at.is_not(None),
        )
        await self.db.execute(stmt)

    async def leave(self, workspace: str, session: str, peers: Sequence[str] | None) -> None:
        """Mark active members as left; ``peers=None`` means every active member."""
        stmt = update(M).where(
            M.c.workspace_name == workspace, M.c.session_name == session, M.c.left_at.is_(None)
        )
        if peers is not None:
            stmt = stmt.where(M.c.peer_name.in_(list(peers)))
        await self.db.execute(stmt.values(left_at=func.now()))

    async def count_observers(self, workspace: str, session: str, excluding: Sequence[str]) -> int:
        """Active members with ``observe_others = true``, not counting ``excluding``."""
        stmt = select(func.count()).where(
            M.c.workspace_name == workspace,
            M.c.session_name == session,
            M.c.left_at.is_(None),
            M.c.configuration["observe_others"].as_boolean().is_(True),
        )
        if excluding:
            stmt = stmt.where(M.c.peer_name.not_in(list(excluding)))
        return int(await self.db.scalar(stmt) or 0)

    async def get_config(self, workspace: str, session: str, peer: str) -> dict[str, Any] | None:
        stmt = select(M.c.configuration).where(
            M.c.workspace_name == workspace, M.c.session_name == session, M.c.peer_name == peer
        )
        result: dict[str, Any] | None = (await self.db.execute(stmt)).scalar_one_or_none()
        return result

    async def merge_config(
        self, workspace: str, session: str, peer: str, full: dict[str, Any], patch: dict[str, Any]
    ) -> None:
        """Insert a membership with ``full`` config, or merge ``patch`` into the stored one."""
        stmt = insert(M).values(
            workspace_name=workspace, session_name=session, peer_name=peer, configuration=full
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[M.c.workspace_name, M.c.session_name, M.c.peer_name],
            set_={"configuration": M.c.configuration.op("||")(patch)},
        )
        await self.db.execute(stmt)

    async def list_active_peers(
        self, workspace: str, session: str, *, page: int, size: int
    ) -> tuple[list[PeerRow], int]:
        stmt = (
            select(*PEER_COLUMNS)
            .join(M, (M.c.workspace_name == P.c.workspace_name) & (M.c.peer_name == P.c.name))
            .join(S, (S.c.workspace_name == M.c.workspace_name) & (S.c.name == M.c.session_name))
            .where(
                M.c.workspace_name == workspace,
                M.c.session_name == session,
                M.c.left_at.is_(None),
                S.c.is_active,
            )
        )
        order = (M.c.joined_at, P.c.id)
        return await fetch_page_into(PeerRow, self.db, stmt, order, page=page, size=size)
