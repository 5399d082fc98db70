"""Worker registry (heartbeats for the status view); index for stale-job sweeps

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 20:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "heartbeat_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("embedder", sa.Text(), nullable=True),
        sa.Column("version", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )
    # Stale-job sweeps look for running jobs by heartbeat.
    op.create_index(
        "ix_jobs_doing_heartbeat",
        "jobs",
        ["heartbeat_at"],
        postgresql_where=sa.text("status = 'doing'"),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_doing_heartbeat", table_name="jobs")
    op.drop_table("workers")
