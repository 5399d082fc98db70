"""LLM usage recorded on each job (prompt/completion tokens, requests)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 22:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("usage", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "usage")
