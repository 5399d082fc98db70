"""Reads only the memory explorer (``honcho_server.web``) needs, beyond what the API serves.

Every query is bounded (a window of time, a LIMIT or one row's arrays): the explorer pages must
stay fast on big workspaces. The caller decides who may see the answers (the web layer asks
the guarded API routes first, or requires an admin key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_USAGE = text(
    """
    SELECT kind, count(*) AS jobs,
           coalesce(sum((usage->>'prompt_tokens')::bigint), 0) AS prompt_tokens,
           coalesce(sum((usage->>'completion_tokens')::bigint), 0) AS completion_tokens
    FROM jobs
    WHERE usage IS NOT NULL AND finished_at >= now() - CAST(:window AS interval)
    GROUP BY kind ORDER BY kind
    """
)
_OLDEST_BY_KIND = text(
    """
    SELECT kind, count(*) AS pending,
           extract(epoch FROM now() - min(created_at)) AS oldest_seconds
    FROM jobs WHERE status = 'todo' GROUP BY kind ORDER BY kind
    """
)
_SOURCES = text(
    """
    SELECT m.public_id, m.session_name
    FROM conclusions c
    JOIN LATERAL unnest(c.source_message_ids) WITH ORDINALITY AS s(public_id, n) ON true
    JOIN messages m ON m.public_id = s.public_id AND m.workspace_name = c.workspace_name
    WHERE c.workspace_name = :workspace AND c.id = :conclusion
    ORDER BY s.n LIMIT :limit
    """
)
_POSITION = text(
    """
    SELECT count(*) FROM messages
    WHERE workspace_name = :workspace AND session_name = :session
      AND id <= (SELECT id FROM messages WHERE public_id = :message
                 AND workspace_name = :workspace AND session_name = :session)
    """
)
_SIMILARITY = text(
    """
    SELECT m.public_id, max(1 - (e.embedding <=> CAST(:vector AS vector))) AS similarity
    FROM messages m JOIN message_embeddings e ON e.message_id = m.id
    WHERE m.workspace_name = :workspace AND m.public_id = ANY(:ids)
    GROUP BY m.public_id
    """
)


@dataclass(frozen=True)
class KindUsage:
    kind: str
    jobs: int
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class KindBacklog:
    kind: str
    pending: int
    oldest_seconds: float


@dataclass(frozen=True)
class MessageRef:
    id: str
    session_id: str


class ExplorerRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def token_usage(self, window: timedelta) -> list[KindUsage]:
        """LLM tokens spent by the jobs that finished within ``window``, per job kind."""
        rows = await self.db.execute(_USAGE, {"window": window})
        return [
            KindUsage(r.kind, int(r.jobs), int(r.prompt_tokens), int(r.completion_tokens))
            for r in rows
        ]

    async def backlog_by_kind(self) -> list[KindBacklog]:
        """Pending jobs per kind and how long the oldest has waited."""
        rows = await self.db.execute(_OLDEST_BY_KIND)
        return [KindBacklog(r.kind, int(r.pending), float(r.oldest_seconds)) for r in rows]

    async def source_messages(
        self, workspace: str, conclusion: str, limit: int = 50
    ) -> list[MessageRef]:
        """The messages a conclusion was drawn from (those still stored), in cited order."""
        params = {"workspace": workspace, "conclusion": conclusion, "limit": limit}
        rows = await self.db.execute(_SOURCES, params)
        return [MessageRef(r.public_id, r.session_name) for r in rows]

    async def message_position(self, workspace: str, session: str, message: str) -> int:
        """1-based position of ``message`` in its session, oldest first (0: not there)."""
        params = {"workspace": workspace, "session": session, "message": message}
        return int((await self.db.execute(_POSITION, params)).scalar_one())

    async def message_similarity(
        self, workspace: str, ids: Sequence[str], vector: list[float]
    ) -> dict[str, float]:
        """Cosine similarity of each message's nearest embedded chunk to ``vector``."""
        if not ids:
            return {}
        params = {"workspace": workspace, "ids": list(ids), "vector": str(vector)}
        rows = await self.db.execute(_SIMILARITY, params)
        return {r.public_id: float(r.similarity) for r in rows}
