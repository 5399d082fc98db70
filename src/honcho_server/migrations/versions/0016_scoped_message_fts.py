"""Scope-first full text: GIN indexes on (workspace, session, words) and (workspace, peer, words)

Message search matches the query's words (all of them, or a rare one) under its scope. With
one table-wide index on ``to_tsvector('english', content)`` PostgreSQL either read every
match in the table and then dropped those outside the scope, or walked the scope's messages
and parsed each one's text again; both grow with the table, not with the scope. With the
``btree_gin`` contrib extension (trusted, shipped with PostgreSQL and the embedded build)
the scope's equality columns sit in the same GIN index as the words, and one index scan
intersects them. ``bench/text_scope.py``, PostgreSQL time of the all-words statement
(EXPLAIN ANALYZE) on filler messages: session scope 2.8 to 8.6 ms → 0.1 to 0.7 ms at 10,000
messages and 2.8 to 19 ms → 0.2 to 1.1 ms at 100,000; peer scope 1.5 to 2 ms → 0.1 to 0.7 ms and
12 to 27 ms → 0.1 to 2.2 ms (one peer wrote 2,500 of them). Workspace-wide search is served by the
workspace column of either (the table-wide index is dropped: every search names its
workspace).

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
