"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 20:04:29.855369
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "jobs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column(
            "payload", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("workspace_name", sa.Text(), nullable=True),
        sa.Column("session_name", sa.Text(), nullable=True),
        sa.Column("lock_key", sa.Text(), nullable=True),
        sa.Column("dedupe_key", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="todo", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("max_attempts", sa.Integer(), server_default=sa.text("5"), nullable=False),
        sa.Column(
            "scheduled_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("worker_id", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_claim", "jobs", ["status", "scheduled_at", "id"], unique=False)
    op.create_index("ix_jobs_workspace", "jobs", ["workspace_name", "status"], unique=False)
    op.create_index(
        "uq_jobs_dedupe_key_todo",
        "jobs",
        ["dedupe_key"],
        unique=True,
        postgresql_where=sa.text("status = 'todo' AND dedupe_key IS NOT NULL"),
    )
    op.create_index(
        "uq_jobs_lock_key_doing",
        "jobs",
        ["lock_key"],
        unique=True,
        postgresql_where=sa.text("status = 'doing' AND lock_key IS NOT NULL"),
    )
    op.create_table(
        "workspaces",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "internal_metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "configuration",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
        sa.UniqueConstraint("name", name=op.f("uq_workspaces_name")),
    )
    op.create_table(
        "conclusions",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("workspace_name", sa.Text(), nullable=False),
        sa.Column("observer", sa.Text(), nullable=False),
        sa.Column("observed", sa.Text(), nullable=False),
        sa.Column("session_name", sa.Text(), nullable=True),
        sa.Column("level", sa.Text(), server_default="explicit", nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("premises", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column(
            "source_message_ids", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("times_derived", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "internal_metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_name"],
            ["workspaces.name"],
            name=op.f("fk_conclusions_workspace_name_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conclusions")),
    )
    op.create_index(
        "ix_conclusions_pair",
        "conclusions",
        ["workspace_name", "observer", "observed", "created_at"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index(
        "ix_conclusions_session", "conclusions", ["workspace_name", "session_name"], unique=False
    )
    op.create_table(
        "peer_cards",
        sa.Column("workspace_name", sa.Text(), nullable=False),
        sa.Column("observer", sa.Text(), nullable=False),
        sa.Column("observed", sa.Text(), nullable=False),
        sa.Column("entries", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["workspace_name"],
            ["workspaces.name"],
            name=op.f("fk_peer_cards_workspace_name_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_name", "observer", "observed", name=op.f("pk_peer_cards")
        ),
    )
    op.create_table(
        "peers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_name", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "internal_metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "configuration",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
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
            name=op.f("fk_peers_workspace_name_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peers")),
        sa.UniqueConstraint("workspace_name", "name", name=op.f("uq_peers_workspace_name_name")),
    )
    op.create_index(
        "ix_peers_workspace_created", "peers", ["workspace_name", "created_at", "id"], unique=False
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_name", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("last_seq", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "internal_metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "configuration",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
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
            name=op.f("fk_sessions_workspace_name_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("workspace_name", "name", name=op.f("uq_sessions_workspace_name_name")),
    )
    op.create_index(
        "ix_sessions_workspace_created",
        "sessions",
        ["workspace_name", "created_at", "id"],
        unique=False,
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("workspace_name", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["workspace_name"],
            ["workspaces.name"],
            name=op.f("fk_webhook_endpoints_workspace_name_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
        sa.UniqueConstraint(
            "workspace_name", "url", name=op.f("uq_webhook_endpoints_workspace_name_url")
        ),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("public_id", sa.Text(), nullable=False),
        sa.Column("workspace_name", sa.Text(), nullable=False),
        sa.Column("session_name", sa.Text(), nullable=False),
        sa.Column("peer_name", sa.Text(), nullable=False),
        sa.Column("seq_in_session", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("token_count", sa.Integer(), nullable=False),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "internal_metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["workspace_name", "peer_name"],
            ["peers.workspace_name", "peers.name"],
            name=op.f("fk_messages_workspace_name_peer_name_peers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_name", "session_name"],
            ["sessions.workspace_name", "sessions.name"],
            name=op.f("fk_messages_workspace_name_session_name_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("public_id", name=op.f("uq_messages_public_id")),
        sa.UniqueConstraint(
            "workspace_name",
            "session_name",
            "seq_in_session",
            name=op.f("uq_messages_workspace_name_session_name_seq_in_session"),
        ),
    )
    op.create_index(
        "ix_messages_peer", "messages", ["workspace_name", "peer_name", "id"], unique=False
    )
    op.create_index(
        "ix_messages_session_order",
        "messages",
        ["workspace_name", "session_name", "id"],
        unique=False,
    )
    op.create_table(
        "session_peers",
        sa.Column("workspace_name", sa.Text(), nullable=False),
        sa.Column("session_name", sa.Text(), nullable=False),
        sa.Column("peer_name", sa.Text(), nullable=False),
        sa.Column(
            "configuration",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "joined_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_name", "peer_name"],
            ["peers.workspace_name", "peers.name"],
            name=op.f("fk_session_peers_workspace_name_peer_name_peers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_name", "session_name"],
            ["sessions.workspace_name", "sessions.name"],
            name=op.f("fk_session_peers_workspace_name_session_name_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_name", "session_name", "peer_name", name=op.f("pk_session_peers")
        ),
    )
    op.create_index(
        "ix_session_peers_peer", "session_peers", ["workspace_name", "peer_name"], unique=False
    )
    op.create_table(
        "summaries",
        sa.Column("workspace_name", sa.Text(), nullable=False),
        sa.Column("session_name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("message_public_id", sa.Text(), nullable=False),
        sa.Column("token_count", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["workspace_name", "session_name"],
            ["sessions.workspace_name", "sessions.name"],
            name=op.f("fk_summaries_workspace_name_session_name_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_name", "session_name", "kind", name=op.f("pk_summaries")
        ),
    )


def downgrade() -> None:
    op.drop_table("summaries")
    op.drop_index("ix_session_peers_peer", table_name="session_peers")
    op.drop_table("session_peers")
    op.drop_index("ix_messages_session_order", table_name="messages")
    op.drop_index("ix_messages_peer", table_name="messages")
    op.drop_table("messages")
    op.drop_table("webhook_endpoints")
    op.drop_index("ix_sessions_workspace_created", table_name="sessions")
    op.drop_table("sessions")
    op.drop_index("ix_peers_workspace_created", table_name="peers")
    op.drop_table("peers")
    op.drop_table("peer_cards")
    op.drop_index("ix_conclusions_session", table_name="conclusions")
    op.drop_index(
        "ix_conclusions_pair",
        table_name="conclusions",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_table("conclusions")
    op.drop_table("workspaces")
    op.drop_index(
        "uq_jobs_lock_key_doing",
        table_name="jobs",
        postgresql_where=sa.text("status = 'doing' AND lock_key IS NOT NULL"),
    )
    op.drop_index(
        "uq_jobs_dedupe_key_todo",
        table_name="jobs",
        postgresql_where=sa.text("status = 'todo' AND dedupe_key IS NOT NULL"),
    )
    op.drop_index("ix_jobs_workspace", table_name="jobs")
    op.drop_index("ix_jobs_claim", table_name="jobs")
    op.drop_table("jobs")
