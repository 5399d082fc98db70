"""Wake workers on new jobs: NOTIFY honcho_jobs after each INSERT statement on jobs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 20:55:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Statement-level, so a batch of jobs sends one notification; delivered at commit, so a
    # rolled-back insert wakes nobody. Polling remains the guarantee if a notification is lost.
    op.execute(
        """
        CREATE FUNCTION honcho_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('honcho_jobs', '');
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER jobs_notify AFTER INSERT ON jobs "
        "FOR EACH STATEMENT EXECUTE FUNCTION honcho_jobs_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER jobs_notify ON jobs")
    op.execute("DROP FUNCTION honcho_jobs_notify()")
