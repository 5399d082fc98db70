"""Dreams: per-collection dream state; index counting live explicit conclusions

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dream_state",
        sa.Column("workspace_name", sa.Text(), nullable=False),
        sa.Column("observer", sa.Text(), nullable=False),
        sa.Column("observed", sa.Text(), nullable=False),
        sa.Column("last_dream_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_dream_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_name"],
            ["workspaces.name"],
            name=op.f("fk_dream_state_workspace_name_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_name", "observer", "observed", name=op.f("pk_dream_state")
        ),
    )
    # The automatic dream check counts a collection's live explicit conclusions after every
    # derive run that stored some; this keeps that an index-only count.
    op.create_index(
        "ix_conclusions_live_explicit",
        "conclusions",
        ["workspace_name", "observer", "observed"],
        postgresql_where=sa.text("deleted_at IS NULL AND level = 'explicit'"),
    )


def downgrade() -> None:
    op.drop_index("ix_conclusions_live_explicit", table_name="conclusions")
    op.drop_table("dream_state")
