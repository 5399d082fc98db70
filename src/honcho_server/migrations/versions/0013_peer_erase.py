"""Erasing a peer: ``peers.deleted_at`` (the peer reads as absent while a job erases it),
triggers that refuse writes naming a peer being erased, and a GIN index on conclusions'
``source_message_ids`` (which conclusions cite a deleted message)

``DELETE /v3/workspaces/{w}/peers/{p}`` sets ``deleted_at``; the ``erase_peer`` job then removes
the peer's data and its row. Until then, a write naming the peer (a message by it, a membership,
a conclusion or card by or about it, dream state, an update of its row) fails with SQLSTATE
``HE409``, which the API answers with 409: nothing resurrects a peer half-way through its
erasure. Checked through the ``(workspace_name, name)`` unique index of ``peers``: per row,
and for messages once per INSERT statement.

Revision ID: 0013
Revises: 0012
Create Date: 2027-01-12 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

#: table -> the columns naming a peer (checked per row; messages, the ingest hot path, once
#: per statement instead: see ``upgrade``)
GUARDED = {
    "session_peers": ("peer_name",),
    "conclusions": ("observer", "observed"),
    "peer_cards": ("observer", "observed"),
    "dream_state": ("observer", "observed"),
}


def _names(columns: tuple[str, ...]) -> str:
    return ", ".join(f"NEW.{c}" for c in columns)


def upgrade() -> None:
    op.add_column("peers", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    # the conclusions citing a deleted message (or an erased peer's messages)
    op.create_index(
        "ix_conclusions_source_message_ids",
        "conclusions",
        ["source_message_ids"],
        unique=False,
        postgresql_using="gin",
    )
    branches = "\n".join(
        f"    {'IF' if i == 0 else 'ELSIF'} TG_TABLE_NAME = '{table}' THEN"
        f" names := ARRAY[{_names(columns)}];"
        for i, (table, columns) in enumerate(GUARDED.items())
    )
    op.execute(
        sa.text(
            f"""
            CREATE FUNCTION refuse_erasing_peer() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                names text[];
                erasing text;
            BEGIN
            {branches}
                END IF;
                SELECT p.name INTO erasing FROM peers p
                 WHERE p.workspace_name = NEW.workspace_name AND p.name = ANY(names)
                   AND p.deleted_at IS NOT NULL
                 LIMIT 1;
                IF erasing IS NOT NULL THEN
                    RAISE EXCEPTION 'peer % is being erased', erasing USING ERRCODE = 'HE409';
                END IF;
                RETURN NEW;
            END $$
            """
        )
    )
    op.execute(
        sa.text(
            """
            CREATE FUNCTION refuse_erasing_peer_update() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF OLD.deleted_at IS NOT NULL THEN
                    RAISE EXCEPTION 'peer % is being erased', OLD.name USING ERRCODE = 'HE409';
                END IF;
                RETURN NEW;
            END $$
            """
        )
    )
    for table in GUARDED:
        op.execute(
            sa.text(
                f"CREATE TRIGGER {table}_refuse_erasing_peer BEFORE INSERT ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION refuse_erasing_peer()"
            )
        )
    # messages: one look-up per INSERT statement (a batch), not per row
    op.execute(
        sa.text(
            """
            CREATE FUNCTION refuse_messages_of_erasing_peer() RETURNS trigger
            LANGUAGE plpgsql AS $$
            DECLARE
                erasing text;
            BEGIN
                SELECT p.name INTO erasing
                  FROM (SELECT DISTINCT workspace_name, peer_name FROM inserted) n
                  JOIN peers p ON p.workspace_name = n.workspace_name AND p.name = n.peer_name
                 WHERE p.deleted_at IS NOT NULL
                 LIMIT 1;
                IF erasing IS NOT NULL THEN
                    RAISE EXCEPTION 'peer % is being erased', erasing USING ERRCODE = 'HE409';
                END IF;
                RETURN NULL;
            END $$
            """
        )
    )
    op.execute(
        sa.text(
            "CREATE TRIGGER messages_refuse_erasing_peer AFTER INSERT ON messages"
            " REFERENCING NEW TABLE AS inserted"
            " FOR EACH STATEMENT EXECUTE FUNCTION refuse_messages_of_erasing_peer()"
        )
    )
    op.execute(
        sa.text(
            "CREATE TRIGGER peers_refuse_erasing_peer BEFORE UPDATE ON peers"
            " FOR EACH ROW EXECUTE FUNCTION refuse_erasing_peer_update()"
        )
    )


def downgrade() -> None:
    op.execute(sa.text("DROP TRIGGER peers_refuse_erasing_peer ON peers"))
    op.execute(sa.text("DROP TRIGGER messages_refuse_erasing_peer ON messages"))
    op.execute(sa.text("DROP FUNCTION refuse_messages_of_erasing_peer()"))
    for table in GUARDED:
        op.execute(sa.text(f"DROP TRIGGER {table}_refuse_erasing_peer ON {table}"))
    op.execute(sa.text("DROP FUNCTION refuse_erasing_peer_update()"))
    op.execute(sa.text("DROP FUNCTION refuse_erasing_peer()"))
    op.drop_index("ix_conclusions_source_message_ids", table_name="conclusions")
    op.drop_column("peers", "deleted_at")
