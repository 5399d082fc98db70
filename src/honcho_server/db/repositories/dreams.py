"""SQL for dreams: queueing them, what a dream reads, and its bookkeeping (``dream_state``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from .conclusions import CURRENT_SQL

_STATES = text(
    f"""
    SELECT o.observer,
           (SELECT count(*) FROM conclusions c
             WHERE c.workspace_name = :ws AND c.observer = o.observer
               AND c.observed = :observed AND {CURRENT_SQL}
               AND c.level = 'explicit') AS live_explicit,
           d.last_dream_at,
           coalesce(d.last_dream_count, 0) AS last_dream_count
      FROM unnest(CAST(:observers AS text[])) AS o(observer)
      LEFT JOIN dream_state d
        ON d.workspace_name = :ws AND d.observer = o.observer AND d.observed = :observed
    """
)

_RECORD = text(
    f"""
    INSERT INTO dream_state (workspace_name, observer, observed, last_dream_at, last_dream_count)
    SELECT :ws, :observer, :observed, now(), count(*) FROM conclusions
     WHERE workspace_name = :ws AND observer = :observer AND observed = :observed
       AND {CURRENT_SQL} AND level = 'explicit'
    ON CONFLICT (workspace_name, observer, observed)
    DO UPDATE SET last_dream_at = excluded.last_dream_at,
                  last_dream_count = excluded.last_dream_count
    """
)

_EXISTING = text(
    """
    SELECT
        EXISTS (SELECT 1 FROM workspaces WHERE name = :ws AND deleted_at IS NULL) AS workspace,
        (SELECT coalesce(array_agg(name), '{}') FROM peers
          WHERE workspace_name = :ws AND name = ANY(:peers)) AS peers,
        (SELECT coalesce(array_agg('scope.' || name), '{}') FROM scopes
          WHERE workspace_name = :ws AND 'scope.' || name = ANY(:peers)) AS scopes,
        EXISTS (SELECT 1 FROM sessions
                 WHERE workspace_name = :ws AND name = :session AND is_active) AS session
    """
).bindparams(bindparam("peers", type_=ARRAY(Text)))


@dataclass(frozen=True)
class CollectionState:
    """What the automatic dream check needs to know about one collection."""

    observer: str
    live_explicit: int
    last_dream_at: datetime | None
    last_dream_count: int
    pending: bool = False  # a dream of it is waiting or running (``queue.reads``)


class DreamRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def collection_states(
        self, workspace: str, observers: Sequence[str], observed: str
    ) -> list[CollectionState]:
        """For each observer's collection of ``observed``: its live explicit count and last
        dream (whether one is queued is the queue's to say). One query."""
        params = {"ws": workspace, "observed": observed, "observers": list(observers)}
        rows = (await self.db.execute(_STATES, params)).all()
        return [
            CollectionState(
                observer=r.observer,
                live_explicit=int(r.live_explicit),
                last_dream_at=r.last_dream_at,
                last_dream_count=int(r.last_dream_count),
            )
            for r in rows
        ]

    async def existing(
        self, workspace: str, peers: Sequence[str], session: str | None
    ) -> tuple[bool, set[str], bool]:
        """(live workspace, which of ``peers`` exist — ``scope.<name>`` for scopes — and
        whether ``session`` exists and is active)."""
        params = {"ws": workspace, "peers": list(peers), "session": session}
        row = (await self.db.execute(_EXISTING, params)).one()
        return bool(row.workspace), set(row.peers) | set(row.scopes), bool(row.session)

    async def configurations(
        self, workspace: str, session: str | None
    ) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
        """The workspace's and the (active) session's configuration — None for a session
        that is gone; None altogether when the workspace is gone."""
        row = (
            await self.db.execute(
                text(
                    "SELECT w.configuration AS workspace_config,"
                    " (SELECT s.configuration FROM sessions s WHERE s.workspace_name = w.name"
                    "   AND s.name = :session AND s.is_active) AS session_config"
                    " FROM workspaces w WHERE w.name = :ws AND w.deleted_at IS NULL"
                ),
                {"ws": workspace, "session": session},
            )
        ).first()
        if row is None:
            return None
        session_config = None if row.session_config is None else dict(row.session_config)
        return dict(row.workspace_config or {}), session_config

    async def last_message_at(self, workspace: str, peer: str) -> datetime | None:
        """When ``peer``'s newest message (by arrival) was written."""
        value: datetime | None = await self.db.scalar(
            text(
                "SELECT created_at FROM messages WHERE workspace_name = :ws AND peer_name = :peer"
                " ORDER BY id DESC LIMIT 1"
            ),
            {"ws": workspace, "peer": peer},
        )
        return value

    async def record_dream(self, workspace: str, observer: str, observed: str) -> None:
        """A finished ``omni`` dream: now, and the live explicit count at this moment."""
        params = {"ws": workspace, "observer": observer, "observed": observed}
        await self.db.execute(_RECORD, params)
