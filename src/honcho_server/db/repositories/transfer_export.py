"""Reads for ``export``: one workspace's live rows, streamed through server-side cursors.

Every query runs in one ``REPEATABLE READ`` read-only transaction (:meth:`snapshot`), so the
counts in the header and the rows after it come from the same moment. Rows being forgotten
are left out: peers being erased (``deleted_at``) with their messages, memberships, cards,
dream state and the conclusions by or about them; sessions being deleted (inactive) with
everything stamped with them; deleted conclusions. Column labels are the transfer format's
field names.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import RowMapping, TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

#: Rows fetched per round trip from a server-side cursor.
FETCH = 1000

_ERASED = "SELECT name FROM peers WHERE workspace_name = :w AND deleted_at IS NOT NULL"
_ACTIVE_SESSIONS = "SELECT name FROM sessions WHERE workspace_name = :w AND is_active"


@dataclass(frozen=True)
class Query:
    """A section's rows: ``columns`` (labelled as the format's fields), ``source`` (FROM and
    WHERE, shared with its count) and ``order``."""

    columns: str
    source: str
    order: str

    def rows(self) -> TextClause:
        return text(f"SELECT {self.columns} {self.source} ORDER BY {self.order}")

    def count(self) -> str:
        return f"(SELECT count(*) {self.source})"


WORKSPACE = Query(
    "name AS id, metadata, configuration, internal_metadata, created_at",
    "FROM workspaces WHERE name = :w AND deleted_at IS NULL",
    "id",
)
PEERS = Query(
    "name AS id, metadata, configuration, internal_metadata, created_at",
    "FROM peers WHERE workspace_name = :w AND deleted_at IS NULL",
    "id",
)
SESSIONS = Query(
    """s.name AS id, s.metadata, s.configuration, s.internal_metadata, s.created_at,
       s.last_seq,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                    'peer_id', sp.peer_name, 'configuration', sp.configuration,
                    'joined_at', sp.joined_at, 'left_at', sp.left_at) ORDER BY sp.peer_name)
                 FROM session_peers sp
                 WHERE sp.workspace_name = :w AND sp.session_name = s.name
                   AND sp.peer_name NOT IN ("""
    + _ERASED
    + """)), '[]'::jsonb) AS members""",
    "FROM sessions s WHERE s.workspace_name = :w AND s.is_active",
    "s.id",
)
SCOPES = Query(
    """sc.name AS id, sc.metadata, sc.created_at,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                    'session_id', ss.session_name, 'joined_at', ss.joined_at,
                    'backfill_state', ss.backfill_state,
                    'backfill_updated_at', ss.backfill_updated_at,
                    'docs_copied', ss.docs_copied) ORDER BY ss.session_name)
                 FROM scope_sessions ss
                 WHERE ss.workspace_name = :w AND ss.scope_name = sc.name
                   AND ss.session_name IN ("""
    + _ACTIVE_SESSIONS
    + """)), '[]'::jsonb) AS sessions""",
    "FROM scopes sc WHERE sc.workspace_name = :w",
    "sc.id",
)
_LIVE_MESSAGES = f"""FROM messages m
    WHERE m.workspace_name = :w AND m.session_name IN ({_ACTIVE_SESSIONS})
      AND m.peer_name NOT IN ({_ERASED})"""
_MESSAGE_COLUMNS = """m.public_id AS id, m.session_name AS session_id, m.peer_name AS peer_id,
    m.seq_in_session AS seq, m.content, m.token_count, m.metadata, m.internal_metadata,
    m.created_at"""
_CHUNKS = """(SELECT jsonb_agg(jsonb_build_object(
                  'index', e.chunk_index, 'vector', CAST(CAST(e.embedding AS text) AS jsonb))
                  ORDER BY e.chunk_index)
              FROM message_embeddings e WHERE e.message_id = m.id) AS embeddings"""
MESSAGES = Query(_MESSAGE_COLUMNS, _LIVE_MESSAGES, "m.id")
MESSAGES_WITH_VECTORS = Query(_MESSAGE_COLUMNS + ", " + _CHUNKS, _LIVE_MESSAGES, "m.id")
SUMMARIES = Query(
    """su.session_name AS session_id, su.kind, su.content, su.message_public_id AS message_id,
       su.token_count, su.created_at""",
    f"""FROM summaries su
    WHERE su.workspace_name = :w AND su.session_name IN ({_ACTIVE_SESSIONS})
      AND EXISTS (SELECT 1 {_LIVE_MESSAGES} AND m.public_id = su.message_public_id)""",
    "su.session_name, su.kind",
)
_LIVE_CONCLUSIONS = f"""FROM conclusions c
    WHERE c.workspace_name = :w AND c.deleted_at IS NULL
      AND c.observer NOT IN ({_ERASED}) AND c.observed NOT IN ({_ERASED})
      AND (c.session_name IS NULL OR c.session_name IN ({_ACTIVE_SESSIONS}))"""
_CONCLUSION_COLUMNS = """c.id, c.observer, c.observed, c.session_name AS session_id, c.level,
    c.content, c.premises, c.source_message_ids, c.source_ids, c.times_derived,
    c.internal_metadata, c.created_at, c.superseded_by, c.superseded_at"""
CONCLUSIONS = Query(_CONCLUSION_COLUMNS, _LIVE_CONCLUSIONS, "c.created_at, c.id")
CONCLUSIONS_WITH_VECTORS = Query(
    _CONCLUSION_COLUMNS + ", CAST(CAST(c.embedding AS text) AS jsonb) AS embedding",
    _LIVE_CONCLUSIONS,
    "c.created_at, c.id",
)
PEER_CARDS = Query(
    "observer, observed, entries, updated_at",
    f"""FROM peer_cards WHERE workspace_name = :w
        AND observer NOT IN ({_ERASED}) AND observed NOT IN ({_ERASED})""",
    "observer, observed",
)
DREAM_STATES = Query(
    "observer, observed, last_dream_at, last_dream_count",
    f"""FROM dream_state WHERE workspace_name = :w
        AND observer NOT IN ({_ERASED}) AND observed NOT IN ({_ERASED})""",
    "observer, observed",
)
WEBHOOKS = Query(
    "id, url, created_at", "FROM webhook_endpoints WHERE workspace_name = :w", "created_at, id"
)

#: The sections after the workspace row, in file order, keyed by their ``Counts`` field.
SECTIONS: dict[str, tuple[Query, Query]] = {
    "peers": (PEERS, PEERS),
    "sessions": (SESSIONS, SESSIONS),
    "scopes": (SCOPES, SCOPES),
    "messages": (MESSAGES, MESSAGES_WITH_VECTORS),
    "summaries": (SUMMARIES, SUMMARIES),
    "conclusions": (CONCLUSIONS, CONCLUSIONS_WITH_VECTORS),
    "peer_cards": (PEER_CARDS, PEER_CARDS),
    "dream_states": (DREAM_STATES, DREAM_STATES),
    "webhooks": (WEBHOOKS, WEBHOOKS),
}

_EMBEDDINGS = f"""SELECT
    (SELECT count(*) FROM message_embeddings e
      WHERE e.message_id IN (SELECT m.id {_LIVE_MESSAGES}))
  + (SELECT count(*) {_LIVE_CONCLUSIONS} AND c.embedding IS NOT NULL)"""


class TransferExportRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def snapshot(self) -> None:
        """Make this transaction a read-only snapshot (the first statement of it)."""
        await self.db.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))

    async def workspace(self, workspace: str) -> RowMapping | None:
        """The workspace's record, keyed by the format's field names."""
        return (await self.db.execute(WORKSPACE.rows(), {"w": workspace})).mappings().first()

    async def counts(self, workspace: str, *, embeddings: bool) -> dict[str, int]:
        """Each section's row count (and, with ``embeddings``, the stored vectors)."""
        columns = ", ".join(f"{q.count()} AS {name}" for name, (q, _) in SECTIONS.items())
        row = (await self.db.execute(text(f"SELECT {columns}"), {"w": workspace})).one()
        counts = {name: int(value) for name, value in row._mapping.items()}
        if embeddings:
            found = (await self.db.execute(text(_EMBEDDINGS), {"w": workspace})).scalar_one()
            counts["embeddings"] = int(found)
        return counts

    async def section(
        self, section: str, workspace: str, *, embeddings: bool
    ) -> AsyncIterator[RowMapping]:
        """The records of one section (keyed by the format's field names), in file order,
        through a server-side cursor."""
        plain, with_vectors = SECTIONS[section]
        query = (with_vectors if embeddings else plain).rows()
        result = await self.db.stream(query.execution_options(yield_per=FETCH), {"w": workspace})
        async for row in result:
            yield row._mapping
