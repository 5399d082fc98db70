"""Job priority: bulk work (embedding) never holds up deletions, webhooks or derivation

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 21:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "jobs",
        sa.Column("priority", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.drop_index("ix_jobs_claim", table_name="jobs")
    op.create_index(
        "ix_jobs_claim",
        "jobs",
        ["priority", "scheduled_at", "id"],
        postgresql_where=sa.text("status = 'todo'"),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_claim", table_name="jobs")
    op.create_index("ix_jobs_claim", "jobs", ["status", "scheduled_at", "id"])
    op.drop_column("jobs", "priority")
