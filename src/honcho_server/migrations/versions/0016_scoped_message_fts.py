"""Scope-first full text: GIN indexes on (workspace, session, words) and (workspace, peer, words)

Message search matches the query's words (all of them, or a rare one) under its scope. With
one table-wide index on ``to_tsvector('english', content)`` PostgreSQL either read every
match in the table and then dropped those outside the scope, or walked the scope's messages
and parsed each one's text again; both grow with the table, not with the scope. With the
``btree_gin`` contrib extension (trusted, shipped with PostgreSQL and the embedded build)
the scope's equality columns sit in the same GIN index as the words, and one index scan
intersects them. ``bench/text_scope.py`` (the all-words statement, PostgreSQL time by
EXPLAIN ANALYZE, filler messages; a shared 2-core machine, so ranges over three queries and
runs): at 100,000 messages session scope 0.1 to 2.0 ms → 0.1 to 0.6 ms, peer scope (one
peer wrote 2,500) 0.4 to 7.4 ms → 0.1 to 2.9 ms; at 10,000 on a busier machine session
2.8 to 8.6 ms → 0.4 to 0.7 ms, peer 1.5 to 2.0 ms → 0.4 to 0.7 ms. Workspace-wide search
uses the workspace column of either index and the table-wide one is dropped (every search
names its workspace): a rare word costs the same, a word in a tenth of 100,000 messages
26 → 32 ms and 46 → 35 ms (client-side p50, two runs): unchanged within the noise. Ingest
cost was not measurably different (100-message batches).

Revision ID: 0016
Revises: 0015
Create Date: 2027-01-23 08:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.execute(
        "CREATE INDEX ix_messages_session_fts ON messages USING gin "
        "(workspace_name, session_name, to_tsvector('english', content))"
    )
    op.execute(
        "CREATE INDEX ix_messages_peer_fts ON messages USING gin "
        "(workspace_name, peer_name, to_tsvector('english', content))"
    )
    op.drop_index("ix_messages_content_fts", table_name="messages")


def downgrade() -> None:
    op.execute(
        "CREATE INDEX ix_messages_content_fts ON messages "
        "USING gin (to_tsvector('english', content))"
    )
    op.drop_index("ix_messages_peer_fts", table_name="messages")
    op.drop_index("ix_messages_session_fts", table_name="messages")
