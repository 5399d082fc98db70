"""The message-write hot path: two statements, each whole on its own.

``state`` reads what the deriver needs to know about the batch (configurations and members),
so each message's flags and the batch's jobs are planned before anything is written. ``write``
then stores the batch in one statement: it get-or-creates the workspace, the session and the
authors, reserves the sequence numbers, inserts the messages with their flags set and queues
their jobs. A single statement is atomic, so outside a transaction (the hot route, on the
read pool's connections: ``db.read_pool``) it needs no BEGIN or COMMIT; inside a unit of work
(an ``Idempotency-Key``, uploads, the v2 API) it runs in that transaction like any other.

Why the read comes first: the plan (``services.ingest_jobs``) is Python, and what it reads
can change between the two statements (a configuration, a member leaving) exactly as it could
change just after the write. The numbers themselves are reserved by the write, under the
session's row lock, so ``seq_in_session`` stays gap-free and writers to one session are
serialised for the statement; ids follow the numbers (inserted after the lock).

The write statement owns several tables' rows for one round trip (workspaces, sessions,
peers, session_peers, messages, jobs); its job rows are those ``queue.repository`` writes
(same columns, same dedupe rule), and the embedding jobs' payloads are built from the
inserted ids as ``queue.payloads.EmbedMessages`` renders them
(``tests/api/test_ingest_statement.py`` holds both to the models).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from ...ids import new_id
from ...queue.payloads import BULK_PRIORITY, MAX_IDS_PER_JOB, EmbedMessages, JobPayload
from ...queue.repository import job_arrays
from ..errors import sqlstate
from ..read_pool import ReadPool
from ..session import RESTARTABLE
from .derivation import MemberRow, SessionState
from .messages import MessageRow
from .raw import READ_POOL

# What the batch's plan needs, as it will stand once the authors joined: the configurations,
# the session's members, and the authors as the active members they are about to be (a left
# member rejoins with ``$4``, the default member configuration; an active one keeps its own).
_STATE_COLUMNS = """
    SELECT coalesce((SELECT configuration FROM workspaces WHERE name = $1), '{}')
               AS workspace_config,
           coalesce((SELECT configuration FROM sessions
                      WHERE workspace_name = $1 AND name = $2), '{}') AS session_config,
           (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'peer', m.peer, 'config', m.config, 'active', m.active,
                       'peer_config', m.peer_config) ORDER BY m.peer), '[]')
              FROM (
                  SELECT sp.peer_name AS peer, sp.configuration AS config,
                         sp.left_at IS NULL AS active, p.configuration AS peer_config
                    FROM session_peers sp
                    JOIN peers p ON p.workspace_name = sp.workspace_name AND p.name = sp.peer_name
                   WHERE sp.workspace_name = $1 AND sp.session_name = $2
                     AND NOT (sp.peer_name = ANY(CAST($3 AS text[])))
                  UNION ALL
                  SELECT a.peer,
                         CASE WHEN sp.peer_name IS NOT NULL AND sp.left_at IS NULL
                              THEN sp.configuration ELSE CAST(CAST($4 AS text) AS jsonb) END,
                         true,
                         coalesce(p.configuration, '{}'::jsonb)
                    FROM unnest(CAST($3 AS text[])) AS a(peer)
                    LEFT JOIN session_peers sp ON sp.workspace_name = $1
                         AND sp.session_name = $2 AND sp.peer_name = a.peer
                    LEFT JOIN peers p ON p.workspace_name = $1 AND p.name = a.peer
              ) m) AS members
"""

# The state and its fingerprint: what a plan made from it is valid for (:data:`_WRITE`'s ``$30``).
_STATE = f"SELECT s.*, md5(CAST(s AS text)) FROM ({_STATE_COLUMNS}) s"

# The batch in one statement. Parameters: $1 workspace, $2 session, $3 the authors (sorted, so
# concurrent writers take index locks in one order), $4 the default member configuration (JSON
# text), $5 how many messages; the messages as arrays ($6 public ids, $7 senders, $8 contents,
# $9 token counts, $10 metadata and $11 internal metadata as JSON text, $12 created_at or
# NULL for now()); the planned jobs as ``queue.repository``'s arrays ($13 kinds .. $20 max
# attempts); the embedding jobs' attempts ($21, NULL: no embedding), size ($22) and priority
# ($28); the summary job ($23, JSON text, its ``seq`` set here; NULL: summaries off), its lock
# and dedupe key ($24), attempts ($25) and priority ($29), the short and long thresholds ($26,
# $27; 0: none).
#
# A new session is inserted with its counter already advanced; an existing active one is
# advanced under its row lock, which serialises writers to one session until the statement
# ends and keeps ``seq_in_session`` gap-free. Authors, members, messages and jobs are written
# only when numbers were reserved.
#
# Tombstones. A session is only created in a workspace this statement created or holds
# ``FOR SHARE`` while its ``deleted_at`` is NULL: a workspace DELETE (an UPDATE of that row)
# waits for this statement and then finds the new session active (409), and a writer that
# waited for a committed DELETE re-reads the row, sees the tombstone and creates nothing. An
# existing session needs no workspace lock: it is advanced only while active, under its own row
# lock, and a workspace with an active session cannot be deleted; nor is it advanced while the
# statement's snapshot sees a tombstone (``deleting``), so such a statement writes nothing.
_WRITE = f"""
    WITH seen AS (
        SELECT CAST($30 AS text) IS NULL
            OR (SELECT md5(CAST(s AS text)) FROM ({_STATE_COLUMNS}) s) = $30 AS current
    ), ws AS (
        INSERT INTO workspaces (name) VALUES ($1) ON CONFLICT DO NOTHING RETURNING id
    ), tomb AS (
        SELECT 1 FROM workspaces WHERE name = $1 AND deleted_at IS NOT NULL
    ), held AS (
        SELECT id FROM workspaces
        WHERE name = $1 AND deleted_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM sessions WHERE workspace_name = $1 AND name = $2)
        FOR SHARE
    ), open AS (
        SELECT id FROM ws UNION ALL SELECT id FROM held
    ), new_session AS (
        INSERT INTO sessions (workspace_name, name, last_seq, message_count)
        SELECT $1, $2, $5, $5 WHERE EXISTS (SELECT 1 FROM open) AND (SELECT current FROM seen)
        ON CONFLICT DO NOTHING
        RETURNING last_seq
    ), advanced AS (
        UPDATE sessions SET last_seq = last_seq + $5, message_count = message_count + $5
        WHERE workspace_name = $1 AND name = $2 AND is_active
          AND NOT EXISTS (SELECT 1 FROM tomb) AND (SELECT current FROM seen)
        RETURNING last_seq
    ), reserved AS (
        SELECT last_seq, last_seq - $5 + 1 AS first
          FROM (SELECT last_seq FROM new_session UNION ALL SELECT last_seq FROM advanced) r
    ), authors AS (
        INSERT INTO peers (workspace_name, name)
        SELECT $1, unnest(CAST($3 AS text[])) WHERE EXISTS (SELECT 1 FROM reserved)
        ON CONFLICT DO NOTHING
    ), members AS (
        INSERT INTO session_peers (workspace_name, session_name, peer_name, configuration)
        SELECT $1, $2, unnest(CAST($3 AS text[])), CAST(CAST($4 AS text) AS jsonb)
        WHERE EXISTS (SELECT 1 FROM reserved)
        ON CONFLICT (workspace_name, session_name, peer_name) DO UPDATE
            SET configuration = EXCLUDED.configuration, joined_at = now(), left_at = NULL
            WHERE session_peers.left_at IS NOT NULL
    ), stored AS (
        INSERT INTO messages (public_id, workspace_name, session_name, peer_name,
                              seq_in_session, content, token_count, metadata,
                              internal_metadata, created_at)
        SELECT m.public_id, $1, $2, m.peer, r.first + m.n - 1, m.content, m.tokens,
               CAST(m.metadata AS jsonb), CAST(m.internal AS jsonb),
               coalesce(m.created_at, now())
          FROM reserved r,
               unnest(CAST($6 AS text[]), CAST($7 AS text[]), CAST($8 AS text[]),
                      CAST($9 AS integer[]), CAST($10 AS text[]), CAST($11 AS text[]),
                      CAST($12 AS timestamptz[])) WITH ORDINALITY
               AS m(public_id, peer, content, tokens, metadata, internal, created_at, n)
        RETURNING id, public_id, workspace_name, session_name, peer_name, content,
                  token_count, metadata, created_at, seq_in_session
    ), queued AS (
        INSERT INTO jobs (kind, payload, workspace_name, session_name, lock_key, dedupe_key,
                          priority, max_attempts)
        SELECT 'embed_messages',
               jsonb_build_object('kind', 'embed_messages', 'workspace', $1,
                                  'message_ids', jsonb_agg(s.id ORDER BY s.seq_in_session)),
               $1, $2, NULL, NULL, CAST($28 AS smallint), CAST($21 AS integer)
          FROM stored s, reserved r
         WHERE CAST($21 AS integer) IS NOT NULL
         GROUP BY (s.seq_in_session - r.first) / CAST($22 AS integer)
        UNION ALL
        SELECT j.kind, CAST(j.payload AS jsonb), j.workspace, j.session, j.lock_key,
               j.dedupe_key, j.priority, j.max_attempts
          FROM unnest(CAST($13 AS text[]), CAST($14 AS text[]), CAST($15 AS text[]),
                      CAST($16 AS text[]), CAST($17 AS text[]), CAST($18 AS text[]),
                      CAST($19 AS smallint[]), CAST($20 AS integer[]))
               AS j(kind, payload, workspace, session, lock_key, dedupe_key, priority,
                    max_attempts)
         WHERE EXISTS (SELECT 1 FROM reserved)
        UNION ALL
        SELECT 'summarize',
               jsonb_set(CAST(CAST($23 AS text) AS jsonb), '{{seq}}', to_jsonb(r.last_seq)),
               $1, $2, $24, $24, CAST($29 AS smallint), CAST($25 AS integer)
          FROM reserved r
         WHERE CAST($23 AS text) IS NOT NULL
           AND (r.last_seq / nullif(CAST($26 AS integer), 0) > (r.first - 1) / nullif($26, 0)
                OR r.last_seq / nullif(CAST($27 AS integer), 0) > (r.first - 1) / nullif($27, 0))
        ON CONFLICT (dedupe_key) WHERE status = 'todo' AND dedupe_key IS NOT NULL DO NOTHING
    )
    SELECT (SELECT max(last_seq) FROM reserved) AS last,
           EXISTS (SELECT 1 FROM tomb) AS deleting,
           (SELECT current FROM seen) AS current,
           s.id, s.public_id, s.workspace_name, s.session_name, s.peer_name, s.content,
           s.token_count, s.metadata, s.created_at
      FROM (SELECT 1) AS one LEFT JOIN stored s ON true
     ORDER BY s.seq_in_session
"""

# A statement that reserved nothing ran again at most this often: once for a session (or
# workspace) another transaction committed after this statement's snapshot was taken, once
# more for one purged meanwhile. Outside a transaction a statement Postgres aborted as a
# deadlock victim wrote nothing and runs again too (inside one, the unit of work restarts).
_RUNS = 3


@dataclass(frozen=True)
class Batch:
    """The messages of a batch, in request order, as the write statement takes them."""

    public_ids: list[str]
    senders: list[str]
    contents: list[str]
    token_counts: list[int]
    metadata: list[str]  # JSON text
    internal: list[str]  # JSON text: the flags the plan set, and any internal metadata
    created_at: list[datetime | None]


@dataclass(frozen=True)
class Summary:
    """The summary job of a batch that reaches a threshold (its ``seq`` set by the write)."""

    payload: JobPayload
    short_every: int
    long_every: int


@dataclass(frozen=True)
class Stored:
    """``rows``: the messages stored, in order (``MessageRow`` columns; empty when nothing
    was). ``last`` is None when the session is inactive or the workspace is being deleted
    (``workspace_deleting``), or the state the batch was planned from is no longer the
    session's (``stale``): then nothing was written."""

    last: int | None
    workspace_deleting: bool
    rows: list[MessageRow]
    stale: bool = False


@dataclass(frozen=True)
class Seen:
    """A session's state as a batch's plan reads it, and its fingerprint (an md5 of the row
    the state was read from): a plan made from a state with the same fingerprint is valid."""

    state: SessionState
    fingerprint: str


class IngestRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    def _pool(self) -> ReadPool | None:
        """The read pool, for a session outside any transaction (``api.deps.read_session``):
        each statement is then its own transaction."""
        pool: ReadPool | None = self.db.info.get(READ_POOL)
        return pool if pool is not None and not self.db.in_transaction() else None

    async def _fetch(self, sql: str, args: Sequence[Any]) -> Sequence[Any]:
        pool = self._pool()
        if pool is not None:
            return await pool.fetch(sql, *args)
        connection = await self.db.connection()  # in the unit's transaction (BEGIN included)
        return (await connection.exec_driver_sql(sql, tuple(args))).all()

    async def state(
        self, workspace: str, session: str, authors: Sequence[str], member_config: str
    ) -> Seen:
        """The session's configurations and members once ``authors`` joined (``last_seq`` 0:
        the numbers are reserved by :meth:`write`), with its fingerprint. ``member_config`` is
        JSON text."""
        row = (await self._fetch(_STATE, (workspace, session, list(authors), member_config)))[0]
        return Seen(_state(row), str(row[3]))

    async def write(
        self,
        workspace: str,
        session: str,
        authors: Sequence[str],
        member_config: str,
        batch: Batch,
        jobs: Sequence[JobPayload],
        *,
        embed_per_job: int | None,
        summary: Summary | None,
        seen: str | None = None,
    ) -> Stored:
        """Store ``batch`` (see :data:`_WRITE`) with ``jobs`` and, with ``embed_per_job``,
        its embedding jobs of at most that many messages each.

        ``seen``: the fingerprint of the state the batch was planned from (:meth:`state`),
        when that state was not just read: the batch is then stored only if the session's
        state is still that one, and otherwise nothing is written (``Stored.stale``).

        When another transaction created (or purged) the session or the workspace while the
        statement ran, their rows are not in its snapshot and nothing is written; the
        statement runs again with a fresh snapshot.
        """
        args = _arguments(
            workspace, session, authors, member_config, batch, jobs, embed_per_job, summary, seen
        )
        direct = self._pool() is not None
        for run in range(1, _RUNS + 1):
            try:
                rows = await self._fetch(_WRITE, args)
            except Exception as exc:  # asyncpg's own error on the pool
                if not direct or sqlstate(exc) not in RESTARTABLE or run == _RUNS:
                    raise
                continue
            head = rows[0]
            if not head[2]:
                return Stored(None, workspace_deleting=False, rows=[], stale=True)
            if head[1]:
                return Stored(None, workspace_deleting=True, rows=[])
            if head[0] is not None:
                return Stored(
                    int(head[0]),
                    workspace_deleting=False,
                    rows=[MessageRow(*tuple(r)[3:]) for r in rows if r[3] is not None],
                )
        return Stored(None, workspace_deleting=False, rows=[])


def _arguments(
    workspace: str,
    session: str,
    authors: Sequence[str],
    member_config: str,
    batch: Batch,
    jobs: Sequence[JobPayload],
    embed_per_job: int | None,
    summary: Summary | None,
    seen: str | None,
) -> tuple[Any, ...]:
    """:data:`_WRITE`'s parameters, in order."""
    return (
        workspace,
        session,
        list(authors),
        member_config,
        len(batch.contents),
        batch.public_ids,
        batch.senders,
        batch.contents,
        batch.token_counts,
        batch.metadata,
        batch.internal,
        batch.created_at,
        *job_arrays(jobs).values(),
        EmbedMessages.max_attempts if embed_per_job else None,
        embed_per_job or MAX_IDS_PER_JOB,
        summary.payload.model_dump_json() if summary else None,
        summary.payload.unit().lock_key if summary else None,
        summary.payload.max_attempts if summary else 0,
        summary.short_every if summary else 0,
        summary.long_every if summary else 0,
        BULK_PRIORITY,
        summary.payload.priority if summary else 0,
        seen,
    )


async def rehearse(connection: asyncpg.Connection) -> None:
    """Run both statements once on ``connection`` (a read pool's, at startup) and keep
    nothing: the state of a session that does not exist, then a one-message batch to a
    workspace no API name can spell, in a transaction rolled back. The backend has then read
    every catalog entry, index and trigger the hot path touches, and asyncpg has both
    statements prepared: a new backend's first ingest costs about 12 ms of Postgres CPU
    more than the next, and 16 of them at once held up the first second of traffic
    (``db.warm_up``)."""
    workspace = f"warm-up {new_id()}"  # a space: never a workspace of the API's
    await connection.fetch(_STATE, workspace, "s", ["p"], "{}")
    batch = Batch([new_id()], ["p"], ["warm-up"], [1], ["{}"], ["{}"], [None])
    transaction = connection.transaction()
    await transaction.start()
    try:
        args = _arguments(workspace, "s", ["p"], "{}", batch, [], 1, None, None)
        await connection.fetch(_WRITE, *args)
    finally:
        await transaction.rollback()


def _state(row: Any) -> SessionState:
    return SessionState(
        workspace_config=row[0] or {},
        session_config=row[1] or {},
        internal={},
        active=True,
        last_seq=0,
        members=[
            MemberRow(m["peer"], m["config"] or {}, bool(m["active"]), m["peer_config"] or {})
            for m in row[2]
        ],
    )
