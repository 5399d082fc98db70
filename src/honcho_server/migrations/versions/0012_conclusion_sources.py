"""Conclusion provenance: ``source_ids``, the conclusions a derived one was concluded from

A text array (ids, in the order cited), empty for explicit conclusions, with a GIN index for
the reverse look-up ("which conclusions were derived from this one?", the ``source_ids``
filter). Filled in for existing rows: dream deductions and inductions from the ids they kept
in their internal metadata (``premise_ids`` / ``source_ids``); the deriver's deductions, which
kept only their premises' texts, from the live conclusions of the same collection whose text
is one of those premises (case, spacing and trailing punctuation aside).

Revision ID: 0012
Revises: 0011
Create Date: 2027-01-05 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "conclusions",
        sa.Column("source_ids", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
    )
    # dreams kept the ids they cited in their internal metadata
    for key in ("premise_ids", "source_ids"):
        op.execute(
            sa.text(
                "UPDATE conclusions SET source_ids = ARRAY("
                f" SELECT jsonb_array_elements_text(internal_metadata -> '{key}'))"
                f" WHERE jsonb_typeof(internal_metadata -> '{key}') = 'array'"
                " AND cardinality(source_ids) = 0"
            )
        )
    # the deriver's deductions kept their premises' texts: the same collection's live
    # conclusions with those texts (as deriver.dedupe.premise_key compares them), in the order
    # the premises were cited
    op.execute(
        sa.text(
            """
            UPDATE conclusions d SET source_ids = found.ids
            FROM (
                SELECT d2.id, array_agg(c.id ORDER BY p.n, c.created_at, c.id) AS ids
                FROM conclusions d2
                CROSS JOIN LATERAL unnest(d2.premises) WITH ORDINALITY AS p(text, n)
                JOIN conclusions c
                  ON c.workspace_name = d2.workspace_name AND c.observer = d2.observer
                 AND c.observed = d2.observed AND c.deleted_at IS NULL AND c.id <> d2.id
                 AND rtrim(btrim(regexp_replace(lower(c.content), '\\s+', ' ', 'g')), '.!?;:, ')
                   = rtrim(btrim(regexp_replace(lower(p.text), '\\s+', ' ', 'g')), '.!?;:, ')
                WHERE d2.level = 'deductive' AND cardinality(d2.premises) > 0
                  AND cardinality(d2.source_ids) = 0
                GROUP BY d2.id
            ) found
            WHERE d.id = found.id
            """
        )
    )
    op.create_index(
        "ix_conclusions_source_ids",
        "conclusions",
        ["source_ids"],
        unique=False,
        postgresql_using="gin",
    )


def downgrade() -> None:
    op.drop_index("ix_conclusions_source_ids", table_name="conclusions")
    op.drop_column("conclusions", "source_ids")
