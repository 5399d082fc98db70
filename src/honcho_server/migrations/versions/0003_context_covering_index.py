"""Covering index for session context (running token totals from the index alone)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 20:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_messages_session_tokens ON messages "
        "(workspace_name, session_name, id) INCLUDE (token_count)"
    )
    op.drop_index("ix_messages_session_order", table_name="messages")


def downgrade() -> None:
    op.create_index(
        "ix_messages_session_order", "messages", ["workspace_name", "session_name", "id"]
    )
    op.drop_index("ix_messages_session_tokens", table_name="messages")
