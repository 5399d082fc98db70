"""Superseded conclusions: a fact replaced by a newer one is kept, linked to its replacement

``superseded_by`` holds the id of the conclusion that replaced this one (a knowledge update
found by a dream), ``superseded_at`` when. A superseded conclusion is left out of default
reads (listing, semantic query, representations, context, dialectic, dreams) and shown with
the explicit filter ``{"superseded": true}``. No foreign key: the replacement being deleted
later does not bring the outdated fact back.

The partial pair index and the live-explicit index keep serving live rows: superseded rows
are few, and reads filter them out after the index scan.

Revision ID: 0015
Revises: 0014
Create Date: 2027-01-22 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("conclusions", sa.Column("superseded_by", sa.Text(), nullable=True))
    op.add_column(
        "conclusions", sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("conclusions", "superseded_at")
    op.drop_column("conclusions", "superseded_by")
