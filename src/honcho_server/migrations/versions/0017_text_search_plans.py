"""Text search that cannot fall back to parsing every message of its scope

Migration 0016's composites index (workspace, session or peer, words); the btree indexes
that serve context and lists lead with the same columns. When the planner's statistics do
not know a scope yet (a workspace or session filled since the last ANALYZE: a new tenant, an
import, a busy session), it estimates that scope at a row or two and walks it through a
btree, parsing every message's text again to test the words: at 12,300 freshly loaded
messages 240-490 ms of PostgreSQL CPU per statement, three statements per search, where the
GIN scan takes under 1 ms. The scope columns of the text indexes are now collated "C": equal
for equality (every deterministic collation agrees on equality), but an index is only used
for a comparison in its own collation, so the text statements, which compare the scope in
"C" (``db/repositories/search.py``), can only be served by these GIN indexes (or a
sequential scan, which the planner prices by the table's size), never by a walk of the scope.

The GIN indexes also get a small pending list (``gin_pending_list_limit`` = 64 kB instead of
the server's 4 MB): new rows wait in an unsorted list that every search reads in full until
VACUUM or an insert past the limit merges it; after loading 12,300 messages each search
statement spent 10-17 ms there. A small list is merged more often by the inserting statement
(slightly more ingest work: a few hundredths of a ms per message), and a search reads at most
64 kB of it. Changing that option alone takes no lock that blocks reads or writes.

The two composites are rebuilt (a plain CREATE INDEX, as in 0016: writes to ``messages`` wait
while it runs, reads do not).

Revision ID: 0017
Revises: 0016
Create Date: 2027-01-24 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

PENDING_KB = 64
_WORDS = "to_tsvector('english', content)"


def upgrade() -> None:
    op.drop_index("ix_messages_session_fts", table_name="messages")
    op.drop_index("ix_messages_peer_fts", table_name="messages")
    op.execute(
        "CREATE INDEX ix_messages_session_fts ON messages USING gin "
        f'((workspace_name COLLATE "C"), (session_name COLLATE "C"), {_WORDS}) '
        f"WITH (gin_pending_list_limit = {PENDING_KB})"
    )
    op.execute(
        "CREATE INDEX ix_messages_peer_fts ON messages USING gin "
        f'((workspace_name COLLATE "C"), (peer_name COLLATE "C"), {_WORDS}) '
        f"WITH (gin_pending_list_limit = {PENDING_KB})"
    )
    op.execute(f"ALTER INDEX ix_messages_content_trgm SET (gin_pending_list_limit = {PENDING_KB})")


def downgrade() -> None:
    op.execute("ALTER INDEX ix_messages_content_trgm RESET (gin_pending_list_limit)")
    op.drop_index("ix_messages_peer_fts", table_name="messages")
    op.drop_index("ix_messages_session_fts", table_name="messages")
    op.execute(
        "CREATE INDEX ix_messages_session_fts ON messages USING gin "
        f"(workspace_name, session_name, {_WORDS})"
    )
    op.execute(
        "CREATE INDEX ix_messages_peer_fts ON messages USING gin "
        f"(workspace_name, peer_name, {_WORDS})"
    )
