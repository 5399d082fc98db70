"""Wake workers only when an INSERT on jobs added a row: a job folded into a waiting twin
(``ON CONFLICT (dedupe_key) DO NOTHING``, which is most derive jobs of a busy session) no
longer sends a notification that wakes a lane to claim nothing

Still one notification per statement, delivered at commit. The statement-level trigger reads
the statement's transition table (the rows it inserted; empty when all were folded). A manual
dream that takes the place of a waiting automatic one (``ON CONFLICT DO UPDATE``: no row
inserted) is found by the next poll instead.

Revision ID: 0014
Revises: 0013
Create Date: 2027-01-20 12:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION honcho_jobs_notify_rows() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM inserted_jobs) THEN
                PERFORM pg_notify('honcho_jobs', '');
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute("DROP TRIGGER jobs_notify ON jobs")
    op.execute(
        "CREATE TRIGGER jobs_notify AFTER INSERT ON jobs REFERENCING NEW TABLE AS inserted_jobs "
        "FOR EACH STATEMENT EXECUTE FUNCTION honcho_jobs_notify_rows()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER jobs_notify ON jobs")
    op.execute(
        "CREATE TRIGGER jobs_notify AFTER INSERT ON jobs "
        "FOR EACH STATEMENT EXECUTE FUNCTION honcho_jobs_notify()"
    )
    op.execute("DROP FUNCTION honcho_jobs_notify_rows()")
