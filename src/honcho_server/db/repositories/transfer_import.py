"""Writes for ``import``: one workspace's rows in batches, each batch one statement.

Batches arrive as typed rows and go in through ``unnest`` of column arrays (JSON values as
text, cast in SQL; ragged text arrays as JSON arrays), so a thousand messages cost one round
trip. Everything runs in the caller's transaction: the import is all or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from .conclusions import ConclusionRepository
from .transfer_rows import (
    ChunkRow,
    ConclusionRow,
    MemberRow,
    MessageRow,
    NamedRow,
    PairRow,
    ScopeRow,
    ScopeSessionRow,
    SessionRow,
    SummaryRow,
    WebhookRow,
)

_NAMED = """(CAST(:names AS text[]), CAST(:metadata AS text[]), CAST(:configuration AS text[]),
             CAST(:internal AS text[]), CAST(:created AS timestamptz[]))
            WITH ORDINALITY AS u(name, metadata, configuration, internal, created, ord)"""

_PEERS = text(
    f"""INSERT INTO peers (workspace_name, name, metadata, configuration, internal_metadata,
                           created_at)
    SELECT :w, u.name, CAST(u.metadata AS jsonb), CAST(u.configuration AS jsonb),
           CAST(u.internal AS jsonb), u.created
    FROM unnest{_NAMED} ORDER BY u.ord"""
)
_SESSIONS = text(
    """INSERT INTO sessions (workspace_name, name, is_active, last_seq, metadata, configuration,
                             internal_metadata, created_at)
    SELECT :w, u.name, true, u.last_seq, CAST(u.metadata AS jsonb),
           CAST(u.configuration AS jsonb), CAST(u.internal AS jsonb), u.created
    FROM unnest(CAST(:names AS text[]), CAST(:last_seq AS int[]), CAST(:metadata AS text[]),
                CAST(:configuration AS text[]), CAST(:internal AS text[]),
                CAST(:created AS timestamptz[]))
         WITH ORDINALITY AS u(name, last_seq, metadata, configuration, internal, created, ord)
    ORDER BY u.ord"""
)
_MEMBERS = text(
    """INSERT INTO session_peers (workspace_name, session_name, peer_name, configuration,
                                  joined_at, left_at)
    SELECT :w, u.session, u.peer, CAST(u.configuration AS jsonb), u.joined, u.left_at
    FROM unnest(CAST(:sessions AS text[]), CAST(:peers AS text[]),
                CAST(:configuration AS text[]), CAST(:joined AS timestamptz[]),
                CAST(:left_at AS timestamptz[]))
         AS u(session, peer, configuration, joined, left_at)"""
)
_SCOPES = text(
    """INSERT INTO scopes (workspace_name, name, metadata, created_at)
    SELECT :w, u.name, CAST(u.metadata AS jsonb), u.created
    FROM unnest(CAST(:names AS text[]), CAST(:metadata AS text[]),
                CAST(:created AS timestamptz[])) WITH ORDINALITY AS u(name, metadata, created, ord)
    ORDER BY u.ord"""
)
_SCOPE_SESSIONS = text(
    """INSERT INTO scope_sessions (workspace_name, scope_name, session_name, joined_at,
                                   backfill_state, backfill_updated_at, docs_copied)
    SELECT :w, u.scope, u.session, u.joined, u.state, u.updated, u.docs
    FROM unnest(CAST(:scopes AS text[]), CAST(:sessions AS text[]),
                CAST(:joined AS timestamptz[]), CAST(:states AS text[]),
                CAST(:updated AS timestamptz[]), CAST(:docs AS int[]))
         AS u(scope, session, joined, state, updated, docs)"""
)
# Identity ids in file order, so the messages keep their relative order.
_MESSAGES = text(
    """INSERT INTO messages (public_id, workspace_name, session_name, peer_name, seq_in_session,
                             content, token_count, metadata, internal_metadata, created_at)
    SELECT u.id, :w, u.session, u.peer, u.seq, u.content, u.tokens, CAST(u.metadata AS jsonb),
           CAST(u.internal AS jsonb), u.created
    FROM unnest(CAST(:ids AS text[]), CAST(:sessions AS text[]), CAST(:peers AS text[]),
                CAST(:seqs AS int[]), CAST(:contents AS text[]), CAST(:tokens AS int[]),
                CAST(:metadata AS text[]), CAST(:internal AS text[]),
                CAST(:created AS timestamptz[]))
         WITH ORDINALITY AS u(id, session, peer, seq, content, tokens, metadata, internal,
                              created, ord)
    ORDER BY u.ord
    RETURNING id, public_id"""
)
_CHUNKS = text(
    """INSERT INTO message_embeddings (message_id, chunk_index, workspace_name, session_name,
                                       peer_name, embedding)
    SELECT m.id, u.idx, m.workspace_name, m.session_name, m.peer_name,
           CAST(u.vector AS vector)
    FROM unnest(CAST(:ids AS text[]), CAST(:idx AS int[]), CAST(:vectors AS text[]))
         AS u(id, idx, vector)
    JOIN messages m ON m.public_id = u.id AND m.workspace_name = :w"""
)
_SUMMARIES = text(
    """INSERT INTO summaries (workspace_name, session_name, kind, content, message_id,
                              message_public_id, token_count, created_at)
    SELECT :w, u.session, u.kind, u.content, m.id, m.public_id, u.tokens, u.created
    FROM unnest(CAST(:sessions AS text[]), CAST(:kinds AS text[]), CAST(:contents AS text[]),
                CAST(:ids AS text[]), CAST(:tokens AS int[]), CAST(:created AS timestamptz[]))
         AS u(session, kind, content, id, tokens, created)
    JOIN messages m ON m.public_id = u.id AND m.workspace_name = :w
                   AND m.session_name = u.session
    RETURNING session_name"""
)
_TEXTS = "ARRAY(SELECT jsonb_array_elements_text(CAST({} AS jsonb)))"
_CARDS = text(
    f"""INSERT INTO peer_cards (workspace_name, observer, observed, entries, updated_at)
    SELECT :w, u.observer, u.observed, {_TEXTS.format("u.entries")}, u.at
    FROM unnest(CAST(:observers AS text[]), CAST(:observed AS text[]),
                CAST(:entries AS text[]), CAST(:at AS timestamptz[]))
         AS u(observer, observed, entries, at)"""
)
_DREAMS = text(
    """INSERT INTO dream_state (workspace_name, observer, observed, last_dream_at,
                                last_dream_count)
    SELECT :w, u.observer, u.observed, u.at, u.count
    FROM unnest(CAST(:observers AS text[]), CAST(:observed AS text[]),
                CAST(:at AS timestamptz[]), CAST(:counts AS int[]))
         AS u(observer, observed, at, count)"""
)
_WEBHOOKS = text(
    """INSERT INTO webhook_endpoints (id, workspace_name, url, created_at)
    SELECT u.id, :w, u.url, u.created
    FROM unnest(CAST(:ids AS text[]), CAST(:urls AS text[]), CAST(:created AS timestamptz[]))
         AS u(id, url, created)"""
)


#: How long overwriting a workspace (``replace``) may take to delete the old one.
REPLACE_TIMEOUT = "15min"


class TransferImportRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def workspace_exists(self, name: str) -> bool:
        """Whether the name is taken, live or being deleted."""
        stmt = text("SELECT 1 FROM workspaces WHERE name = :w FOR UPDATE")
        return (await self.db.execute(stmt, {"w": name})).first() is not None

    async def delete_workspace(self, name: str) -> None:
        """Remove the workspace and, by cascade, every row of it (its jobs are cancelled by
        the caller). One statement that may remove millions of rows: it gets
        :data:`REPLACE_TIMEOUT` rather than the per-request statement timeout."""
        await self.db.execute(text(f"SET LOCAL statement_timeout = '{REPLACE_TIMEOUT}'"))
        await self.db.execute(text("DELETE FROM workspaces WHERE name = :w"), {"w": name})
        await self.db.execute(text("SET LOCAL statement_timeout TO DEFAULT"))

    async def insert_workspace(self, row: NamedRow) -> None:
        await self.db.execute(
            text(
                "INSERT INTO workspaces (name, metadata, configuration, internal_metadata,"
                " created_at) VALUES (:w, CAST(:m AS jsonb), CAST(:c AS jsonb),"
                " CAST(:i AS jsonb), :t)"
            ),
            {
                "w": row.name,
                "m": row.metadata,
                "c": row.configuration,
                "i": row.internal_metadata,
                "t": row.created_at,
            },
        )

    async def insert_peers(self, w: str, rows: Sequence[NamedRow]) -> None:
        await self.db.execute(
            _PEERS,
            {
                "w": w,
                "names": [r.name for r in rows],
                "metadata": [r.metadata for r in rows],
                "configuration": [r.configuration for r in rows],
                "internal": [r.internal_metadata for r in rows],
                "created": [r.created_at for r in rows],
            },
        )

    async def insert_sessions(
        self, w: str, rows: Sequence[SessionRow], members: Sequence[MemberRow]
    ) -> None:
        await self.db.execute(
            _SESSIONS,
            {
                "w": w,
                "names": [r.name for r in rows],
                "last_seq": [r.last_seq for r in rows],
                "metadata": [r.metadata for r in rows],
                "configuration": [r.configuration for r in rows],
                "internal": [r.internal_metadata for r in rows],
                "created": [r.created_at for r in rows],
            },
        )
        if members:
            await self.db.execute(
                _MEMBERS,
                {
                    "w": w,
                    "sessions": [m.session for m in members],
                    "peers": [m.peer for m in members],
                    "configuration": [m.configuration for m in members],
                    "joined": [m.joined_at for m in members],
                    "left_at": [m.left_at for m in members],
                },
            )

    async def insert_scopes(
        self, w: str, rows: Sequence[ScopeRow], links: Sequence[ScopeSessionRow]
    ) -> None:
        await self.db.execute(
            _SCOPES,
            {
                "w": w,
                "names": [r.name for r in rows],
                "metadata": [r.metadata for r in rows],
                "created": [r.created_at for r in rows],
            },
        )
        if links:
            await self.db.execute(
                _SCOPE_SESSIONS,
                {
                    "w": w,
                    "scopes": [x.scope for x in links],
                    "sessions": [x.session for x in links],
                    "joined": [x.joined_at for x in links],
                    "states": [x.backfill_state for x in links],
                    "updated": [x.backfill_updated_at for x in links],
                    "docs": [x.docs_copied for x in links],
                },
            )

    async def insert_messages(
        self, w: str, rows: Sequence[MessageRow], chunks: Sequence[ChunkRow]
    ) -> list[int]:
        """The new rows' internal ids, in the order given."""
        result = await self.db.execute(
            _MESSAGES,
            {
                "w": w,
                "ids": [r.public_id for r in rows],
                "sessions": [r.session for r in rows],
                "peers": [r.peer for r in rows],
                "seqs": [r.seq for r in rows],
                "contents": [r.content for r in rows],
                "tokens": [r.token_count for r in rows],
                "metadata": [r.metadata for r in rows],
                "internal": [r.internal_metadata for r in rows],
                "created": [r.created_at for r in rows],
            },
        )
        ids = [int(row.id) for row in result.all()]
        if chunks:
            await self.db.execute(
                _CHUNKS,
                {
                    "w": w,
                    "ids": [c.message_public_id for c in chunks],
                    "idx": [c.index for c in chunks],
                    "vectors": [c.vector for c in chunks],
                },
            )
        return ids

    async def insert_summaries(self, w: str, rows: Sequence[SummaryRow]) -> int:
        """How many went in: a summary whose message is not in the session is left out."""
        result = await self.db.execute(
            _SUMMARIES,
            {
                "w": w,
                "sessions": [r.session for r in rows],
                "kinds": [r.kind for r in rows],
                "contents": [r.content for r in rows],
                "ids": [r.message_public_id for r in rows],
                "tokens": [r.token_count for r in rows],
                "created": [r.created_at for r in rows],
            },
        )
        return len(result.all())

    async def insert_conclusions(self, w: str, rows: Sequence[ConclusionRow]) -> None:
        await ConclusionRepository(self.db).import_rows(w, rows)

    async def insert_peer_cards(self, w: str, rows: Sequence[PairRow]) -> None:
        await self.db.execute(
            _CARDS,
            {
                "w": w,
                "observers": [r.observer for r in rows],
                "observed": [r.observed for r in rows],
                "entries": [r.entries for r in rows],
                "at": [r.at for r in rows],
            },
        )

    async def insert_dream_states(self, w: str, rows: Sequence[PairRow]) -> None:
        await self.db.execute(
            _DREAMS,
            {
                "w": w,
                "observers": [r.observer for r in rows],
                "observed": [r.observed for r in rows],
                "at": [r.at for r in rows],
                "counts": [r.count for r in rows],
            },
        )

    async def settle_sequences(self, w: str) -> None:
        """Raise each session's ``last_seq`` to its highest message number, so messages added
        after the import never reuse one (a file may say less than it holds), and count each
        session's messages (``message_count``)."""
        await self.db.execute(
            text(
                """UPDATE sessions s SET last_seq = greatest(s.last_seq, m.top), message_count = m.n
                FROM (SELECT session_name, max(seq_in_session) AS top, count(*) AS n
                      FROM messages WHERE workspace_name = :w GROUP BY session_name) m
                WHERE s.workspace_name = :w AND s.name = m.session_name"""
            ),
            {"w": w},
        )

    async def insert_webhooks(self, w: str, rows: Sequence[WebhookRow]) -> None:
        await self.db.execute(
            _WEBHOOKS,
            {
                "w": w,
                "ids": [r.id for r in rows],
                "urls": [r.url for r in rows],
                "created": [r.created_at for r in rows],
            },
        )
