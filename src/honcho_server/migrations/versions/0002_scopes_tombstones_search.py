"""scopes, workspace tombstones, message text search

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 20:22:50.685128
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "scopes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_name", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["workspace_name"],
            ["workspaces.name"],
            name=op.f("fk_scopes_workspace_name_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scopes")),
        sa.UniqueConstraint("workspace_name", "name", name=op.f("uq_scopes_workspace_name_name")),
    )
    op.create_table(
        "scope_sessions",
        sa.Column("workspace_name", sa.Text(), nullable=False),
        sa.Column("scope_name", sa.Text(), nullable=False),
        sa.Column("session_name", sa.Text(), nullable=False),
        sa.Column(
            "joined_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("backfill_state", sa.Text(), server_default="completed", nullable=False),
        sa.Column(
            "backfill_updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("docs_copied", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_name", "scope_name"],
            ["scopes.workspace_name", "scopes.name"],
            name=op.f("fk_scope_sessions_workspace_name_scope_name_scopes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_name", "session_name"],
            ["sessions.workspace_name", "sessions.name"],
            name=op.f("fk_scope_sessions_workspace_name_session_name_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_name", "scope_name", "session_name", name=op.f("pk_scope_sessions")
        ),
    )
    op.add_column("workspaces", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    # Message search: English full-text for words, trigrams for substrings of any query.
    op.execute(
        "CREATE INDEX ix_messages_content_fts ON messages "
        "USING gin (to_tsvector('english', content))"
    )
    op.execute("CREATE INDEX ix_messages_content_trgm ON messages USING gin (content gin_trgm_ops)")


def downgrade() -> None:
    op.drop_index("ix_messages_content_trgm", table_name="messages")
    op.drop_index("ix_messages_content_fts", table_name="messages")
    op.drop_column("workspaces", "deleted_at")
    op.drop_table("scope_sessions")
    op.drop_table("scopes")
