"""Queue state machine: the model's unusable answer kept on a job, and what each worker
reports about its dependencies (LLM endpoints and the embedder it found down)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("raw_output", sa.Text(), nullable=True))
    op.add_column("workers", sa.Column("report", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("workers", "report")
    op.drop_column("jobs", "raw_output")
