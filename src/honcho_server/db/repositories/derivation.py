"""SQL for the deriver: what a derive or summarize job reads and writes.

The derivation watermark — the internal id of the last message of a sender already derived
in a session — lives in the session's ``internal_metadata`` under ``derived_upto``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from .conclusions import CURRENT_SQL

_STATE = text(
    """
    SELECT
        (SELECT configuration FROM workspaces WHERE name = :ws) AS workspace_config,
        s.configuration AS session_config,
        s.internal_metadata AS session_internal,
        s.is_active,
        s.last_seq,
        (SELECT coalesce(jsonb_agg(jsonb_build_object(
                    'peer', sp.peer_name, 'config', sp.configuration,
                    'active', sp.left_at IS NULL, 'peer_config', p.configuration)), '[]')
           FROM session_peers sp
           JOIN peers p ON p.workspace_name = sp.workspace_name AND p.name = sp.peer_name
          WHERE sp.workspace_name = :ws AND sp.session_name = :session) AS members
    FROM sessions s
    WHERE s.workspace_name = :ws AND s.name = :session
    """
)

_MESSAGE_COLUMNS = (
    "id, public_id, peer_name, seq_in_session, content, token_count, created_at, "
    "coalesce((internal_metadata->>'skip_reasoning')::boolean, false) AS skip_reasoning, "
    "internal_metadata->>'custom_instructions' AS custom_instructions"
)

_WATERMARK = text(
    """
    UPDATE sessions
       SET internal_metadata = jsonb_set(
               internal_metadata, '{derived_upto}',
               coalesce(internal_metadata->'derived_upto', '{}'::jsonb)
                   || jsonb_build_object(CAST(:peer AS text), CAST(:upto AS bigint)))
     WHERE workspace_name = :ws AND name = :session
    """
)


@dataclass(frozen=True, slots=True)
class PendingMessage:
    """A message as the deriver reads it (``_MESSAGE_COLUMNS``, in order; ``id`` internal)."""

    id: int
    public_id: str
    peer_name: str
    seq_in_session: int
    content: str
    token_count: int
    created_at: datetime
    skip_reasoning: bool
    custom_instructions: str | None


@dataclass(frozen=True, slots=True)
class StoredSummaryState:
    """A stored summary of a session and the ``seq_in_session`` it covers up to (0 when the
    message it ended on is gone)."""

    kind: str
    content: str
    covered_seq: int


@dataclass(frozen=True, slots=True)
class ExplicitFact:
    content: str
    created_at: datetime


def _messages(rows: Sequence[Sequence[Any]]) -> list[PendingMessage]:
    return [PendingMessage(*r) for r in rows]


@dataclass(frozen=True)
class MemberRow:
    peer: str
    config: dict[str, Any]
    active: bool
    peer_config: dict[str, Any]


@dataclass(frozen=True)
class SessionState:
    workspace_config: dict[str, Any]
    session_config: dict[str, Any]
    internal: dict[str, Any]
    active: bool
    last_seq: int
    members: list[MemberRow]

    def watermark(self, peer: str) -> int:
        upto = self.internal.get("derived_upto") or {}
        return int(upto.get(peer) or 0)


class DerivationRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def session_state(self, workspace: str, session: str) -> SessionState | None:
        """Configurations, watermarks and members of a session in one round trip."""
        row = (await self.db.execute(_STATE, {"ws": workspace, "session": session})).first()
        if row is None:
            return None
        members = row.members if isinstance(row.members, list) else json.loads(row.members)
        return SessionState(
            workspace_config=row.workspace_config or {},
            session_config=row.session_config or {},
            internal=row.session_internal or {},
            active=bool(row.is_active),
            last_seq=int(row.last_seq),
            members=[
                MemberRow(m["peer"], m["config"] or {}, bool(m["active"]), m["peer_config"] or {})
                for m in members
            ],
        )

    async def pending_messages(
        self, workspace: str, session: str, peer: str, after_id: int, limit: int
    ) -> list[PendingMessage]:
        """The sender's messages after the watermark, oldest first."""
        stmt = text(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE workspace_name = :ws"
            " AND session_name = :session AND peer_name = :peer AND id > :after"
            " ORDER BY id LIMIT :limit"
        )
        params = {"ws": workspace, "session": session, "peer": peer, "after": after_id}
        return _messages((await self.db.execute(stmt, params | {"limit": limit})).all())

    async def context_before(
        self, workspace: str, session: str, upto_id: int, exclude: Sequence[int], limit: int
    ) -> list[PendingMessage]:
        """Up to ``limit`` session messages (any sender) up to ``upto_id``, oldest first."""
        stmt = text(
            f"SELECT * FROM (SELECT {_MESSAGE_COLUMNS} FROM messages WHERE workspace_name = :ws"
            " AND session_name = :session AND id <= :upto AND NOT (id = ANY(:exclude))"
            " ORDER BY id DESC LIMIT :limit) m ORDER BY id"
        )
        params = {"ws": workspace, "session": session, "upto": upto_id, "limit": limit}
        return _messages((await self.db.execute(stmt, params | {"exclude": list(exclude)})).all())

    async def messages_by_seq(
        self, workspace: str, session: str, first: int, last: int
    ) -> list[PendingMessage]:
        stmt = text(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE workspace_name = :ws"
            " AND session_name = :session AND seq_in_session BETWEEN :first AND :last"
            " ORDER BY seq_in_session"
        )
        params = {"ws": workspace, "session": session, "first": first, "last": last}
        return _messages((await self.db.execute(stmt, params)).all())

    async def summaries(self, workspace: str, session: str) -> dict[str, StoredSummaryState]:
        """The stored summaries of a session by kind, with the seq they cover up to."""
        stmt = text(
            "SELECT s.kind, s.content, coalesce(m.seq_in_session, 0) AS covered_seq"
            " FROM summaries s LEFT JOIN messages m ON m.id = s.message_id"
            " WHERE s.workspace_name = :ws AND s.session_name = :session"
        )
        rows = (await self.db.execute(stmt, {"ws": workspace, "session": session})).all()
        return {r.kind: StoredSummaryState(r.kind, r.content, int(r.covered_seq)) for r in rows}

    async def recent_explicit(
        self, workspace: str, observer: str, observed: str, limit: int
    ) -> list[ExplicitFact]:
        """``content`` and ``created_at`` of the newest live explicit conclusions of a
        collection, newest first."""
        stmt = text(
            "SELECT content, created_at FROM conclusions WHERE workspace_name = :ws"
            " AND observer = :observer AND observed = :observed AND level = 'explicit'"
            f" AND {CURRENT_SQL}"
            " ORDER BY created_at DESC, id DESC LIMIT :limit"
        )
        params = {"ws": workspace, "observer": observer, "observed": observed, "limit": limit}
        return [ExplicitFact(*r) for r in (await self.db.execute(stmt, params)).all()]

    async def set_watermark(self, workspace: str, session: str, peer: str, upto: int) -> None:
        params = {"ws": workspace, "session": session, "peer": peer, "upto": upto}
        await self.db.execute(_WATERMARK, params)
