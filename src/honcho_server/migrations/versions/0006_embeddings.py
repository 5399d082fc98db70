"""Embeddings: message chunks and conclusions, HNSW (cosine) indexes, the embedding space

The vector size comes from the EMBEDDING_DIMENSIONS setting (passed in by honcho-server as
the `embedding_dimensions` Alembic attribute; 384, the local model's size, otherwise).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _dimensions() -> int:
    return int(context.config.attributes.get("embedding_dimensions", 384))


def upgrade() -> None:
    dims = _dimensions()
    op.create_table(
        "message_embeddings",
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("workspace_name", sa.Text(), nullable=False),
        sa.Column("session_name", sa.Text(), nullable=False),
        sa.Column("peer_name", sa.Text(), nullable=False),
        sa.Column("embedding", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_embeddings_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", "chunk_index", name=op.f("pk_message_embeddings")),
    )
    op.execute(
        f"ALTER TABLE message_embeddings ALTER COLUMN embedding TYPE vector({dims}) USING NULL"
    )
    op.create_index(
        "ix_message_embeddings_scope", "message_embeddings", ["workspace_name", "session_name"]
    )
    op.execute(
        "CREATE INDEX ix_message_embeddings_hnsw ON message_embeddings "
        "USING hnsw (embedding vector_cosine_ops)"
    )
    op.execute(f"ALTER TABLE conclusions ADD COLUMN embedding vector({dims})")
    op.execute(
        "CREATE INDEX ix_conclusions_embedding_hnsw ON conclusions "
        "USING hnsw (embedding vector_cosine_ops)"
    )
    op.create_table(
        "embedding_space",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("dimensions", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_embedding_space")),
    )


def downgrade() -> None:
    op.drop_table("embedding_space")
    op.drop_index("ix_conclusions_embedding_hnsw", table_name="conclusions")
    op.drop_column("conclusions", "embedding")
    op.drop_table("message_embeddings")
