"""``sessions.message_count``: the number of a session's messages, kept as they come and go

Every page of a session's messages answers with the total, which was a ``count(*)`` over the
session's index entries on each request: at 10,000 messages about half of the list's cost
(1.4 ms of PostgreSQL CPU of a request's 2.7 ms). The count is now kept on the session row:

- the writers that add messages raise it in the statement that adds them (ingest, where the
  same UPDATE already hands out ``last_seq``; a session copy; an import), so the ingest path
  pays nothing more;
- a statement-level trigger lowers it after every DELETE of messages, whatever deleted them
  (one message, a peer's erasure across sessions, a cascade from the session or workspace,
  whose rows then go anyway). Sessions are locked in id order, so two deletions spanning the
  same sessions wait for each other instead of deadlocking.

The backfill counts every session's messages once.

Revision ID: 0018
Revises: 0017
Create Date: 2027-01-30 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "sessions",
        sa.Column("message_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.execute(
        """
        UPDATE sessions s SET message_count = m.n
          FROM (SELECT workspace_name, session_name, count(*) AS n FROM messages
                GROUP BY workspace_name, session_name) m
         WHERE s.workspace_name = m.workspace_name AND s.name = m.session_name
        """
    )
    op.execute(
        """
        CREATE FUNCTION count_removed_messages() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM 1 FROM sessions s
              JOIN (SELECT DISTINCT workspace_name, session_name FROM removed) r
                ON s.workspace_name = r.workspace_name AND s.name = r.session_name
             ORDER BY s.id
               FOR NO KEY UPDATE OF s;
            UPDATE sessions s SET message_count = s.message_count - r.n
              FROM (SELECT workspace_name, session_name, count(*) AS n FROM removed
                    GROUP BY workspace_name, session_name) r
             WHERE s.workspace_name = r.workspace_name AND s.name = r.session_name;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER messages_count_removed AFTER DELETE ON messages"
        " REFERENCING OLD TABLE AS removed"
        " FOR EACH STATEMENT EXECUTE FUNCTION count_removed_messages()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER messages_count_removed ON messages")
    op.execute("DROP FUNCTION count_removed_messages()")
    op.drop_column("sessions", "message_count")
