"""The message-write hot path: everything a batch needs before its rows, in one statement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Boolean, Text, bindparam, column, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from .derivation import MemberRow, SessionState

# One round trip that get-or-creates the workspace, the session and the authors, (re)joins the
# authors as members (left members rejoin with ``config``; active ones keep theirs) and reserves
# ``count`` sequence numbers. A new session is inserted with its counter already advanced; an
# existing active one is advanced under its row lock, which serialises writers to one session
# until commit and keeps ``seq_in_session`` gap-free. Authors and members are written only when
# numbers were reserved. Authors arrive sorted so concurrent writers take index locks in one
# order.
#
# The same statement answers what the deriver needs to know about the batch (configurations
# and members, as they stand once the statement's writes are done: its own snapshot does not
# see them, so authors are reported as the active members they now are), so the messages can
# be inserted with their flags set and their jobs queued without a further read.
#
# Tombstones. A session is only created in a workspace this statement created or holds
# ``FOR SHARE`` while its ``deleted_at`` is NULL: a workspace DELETE (an UPDATE of that row)
# waits for this transaction and then finds the new session active (409), and a writer that
# waited for a committed DELETE re-reads the row, sees the tombstone and creates nothing. An
# existing session needs no workspace lock: it is advanced only while active, under its own row
# lock, and a workspace with an active session cannot be deleted. ``deleting`` reports a
# tombstone this statement's snapshot sees.
_PREPARE = (
    text(
        """
    WITH ws AS (
        INSERT INTO workspaces (name) VALUES (:workspace) ON CONFLICT DO NOTHING RETURNING id
    ), held AS (
        SELECT id FROM workspaces
        WHERE name = :workspace AND deleted_at IS NULL
          AND NOT EXISTS (
              SELECT 1 FROM sessions WHERE workspace_name = :workspace AND name = :session
          )
        FOR SHARE
    ), open AS (
        SELECT id FROM ws UNION ALL SELECT id FROM held
    ), new_session AS (
        INSERT INTO sessions (workspace_name, name, last_seq)
        SELECT :workspace, :session, :count WHERE EXISTS (SELECT 1 FROM open)
        ON CONFLICT DO NOTHING
        RETURNING last_seq
    ), advanced AS (
        UPDATE sessions SET last_seq = last_seq + :count
        WHERE workspace_name = :workspace AND name = :session AND is_active
        RETURNING last_seq
    ), reserved AS (
        SELECT last_seq FROM new_session UNION ALL SELECT last_seq FROM advanced
    ), authors AS (
        INSERT INTO peers (workspace_name, name)
        SELECT :workspace, unnest(CAST(:authors AS text[]))
        WHERE EXISTS (SELECT 1 FROM reserved)
        ON CONFLICT DO NOTHING
    ), members AS (
        INSERT INTO session_peers (workspace_name, session_name, peer_name, configuration)
        SELECT :workspace, :session, unnest(CAST(:authors AS text[])), :config
        WHERE EXISTS (SELECT 1 FROM reserved)
        ON CONFLICT (workspace_name, session_name, peer_name) DO UPDATE
            SET configuration = EXCLUDED.configuration, joined_at = now(), left_at = NULL
            WHERE session_peers.left_at IS NOT NULL
    )
    SELECT (SELECT max(last_seq) FROM reserved) AS last,
           EXISTS (
               SELECT 1 FROM workspaces WHERE name = :workspace AND deleted_at IS NOT NULL
           ) AS deleting,
           (SELECT configuration FROM workspaces WHERE name = :workspace) AS workspace_config,
           (SELECT configuration FROM sessions
             WHERE workspace_name = :workspace AND name = :session) AS session_config,
           (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'peer', m.peer, 'config', m.config, 'active', m.active,
                       'peer_config', m.peer_config)), '[]')
              FROM (
                  SELECT sp.peer_name AS peer, sp.configuration AS config,
                         sp.left_at IS NULL AS active, p.configuration AS peer_config
                    FROM session_peers sp
                    JOIN peers p ON p.workspace_name = sp.workspace_name AND p.name = sp.peer_name
                   WHERE sp.workspace_name = :workspace AND sp.session_name = :session
                     AND NOT (sp.peer_name = ANY(CAST(:authors AS text[])))
                  UNION ALL
                  SELECT a.peer,
                         CASE WHEN sp.peer_name IS NOT NULL AND sp.left_at IS NULL
                              THEN sp.configuration ELSE CAST(:config AS jsonb) END,
                         true,
                         coalesce(p.configuration, '{}'::jsonb)
                    FROM unnest(CAST(:authors AS text[])) AS a(peer)
                    LEFT JOIN session_peers sp ON sp.workspace_name = :workspace
                         AND sp.session_name = :session AND sp.peer_name = a.peer
                    LEFT JOIN peers p ON p.workspace_name = :workspace AND p.name = a.peer
              ) m) AS members
    """
    )
    .bindparams(
        bindparam("authors", type_=ARRAY(Text)),
        bindparam("config", type_=JSONB),
    )
    .columns(
        column("last", BigInteger),
        column("deleting", Boolean),
        column("workspace_config", JSONB),
        column("session_config", JSONB),
        column("members", JSONB),
    )
)

# A statement that reserved nothing ran again at most this often: once for a session (or
# workspace) another transaction committed after this statement's snapshot was taken, once
# more for one purged meanwhile.
_RUNS = 3


@dataclass(frozen=True)
class Reservation:
    """``last``: the last reserved number; ``None`` when the workspace is being deleted
    (``workspace_deleting``) or the session is inactive. A ``None`` reservation may have
    written rows: the caller must not commit. ``state``: the session's configurations and
    members once the batch's authors joined (with a number reserved)."""

    last: int | None
    workspace_deleting: bool = False
    state: SessionState | None = None


def _state(row: Any, last: int) -> SessionState:
    return SessionState(
        workspace_config=row.workspace_config or {},
        session_config=row.session_config or {},
        internal={},
        active=True,
        last_seq=last,
        members=[
            MemberRow(m["peer"], m["config"] or {}, bool(m["active"]), m["peer_config"] or {})
            for m in row.members
        ],
    )


class IngestRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def prepare(
        self,
        workspace: str,
        session: str,
        authors: Sequence[str],
        member_config: dict[str, Any],
        count: int,
    ) -> Reservation:
        """Reserve ``count`` sequence numbers for a batch (see :data:`_PREPARE`).

        When another transaction created (or purged) the session or the workspace while the
        statement ran, their rows are not in its snapshot and nothing is reserved; the
        statement is idempotent, so it runs again with a fresh snapshot.
        """
        params = {
            "workspace": workspace,
            "session": session,
            "authors": sorted(set(authors)),
            "config": member_config,
            "count": count,
        }
        connection = await self.db.connection()  # Core execution: no ORM pass per statement
        for _ in range(_RUNS):
            row = (await connection.execute(_PREPARE, params)).one()
            if row.deleting:  # whatever was reserved: the caller rolls the transaction back
                return Reservation(None, workspace_deleting=True)
            if row.last is not None:
                return Reservation(int(row.last), state=_state(row, int(row.last)))
        return Reservation(None)
