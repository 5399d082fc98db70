"""Every statement on the ``jobs`` table. Each status change is one row of the state machine
in :mod:`.states`, and one statement here; no other module writes ``jobs``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .payloads import BatchRule, DeliverWebhook, JobPayload
from .states import State

MAX_ERROR_CHARS = 4000
MAX_RAW_OUTPUT_CHARS = 8000


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


@dataclass(frozen=True)
class Claim:
    """What one claim took: one job, or a batch of jobs of one batchable kind (oldest
    first); ``ready``: another job this worker may run was left waiting."""

    jobs: list[ClaimedJob]
    ready: bool


_INSERT = text(
    """
    INSERT INTO jobs (kind, payload, workspace_name, session_name, lock_key, dedupe_key,
                      priority, max_attempts, scheduled_at)
    VALUES (:kind, :payload, :workspace, :session, :lock_key, :dedupe_key, :priority,
            :max_attempts, now() + make_interval(secs => :delay))
    ON CONFLICT (dedupe_key) WHERE status = 'todo' AND dedupe_key IS NOT NULL DO NOTHING
    """
).bindparams(bindparam("payload", type_=JSONB))

# Several jobs due now in one statement (an ingest's embedding and derivation jobs): the rows
# of the arrays, in order; a twin already waiting (or an earlier row of the same key) makes a
# row a no-op, as for one.
_INSERT_MANY = text(
    """
    INSERT INTO jobs (kind, payload, workspace_name, session_name, lock_key, dedupe_key,
                      priority, max_attempts)
    SELECT kind, CAST(payload AS jsonb), workspace, session, lock_key, dedupe_key, priority,
           max_attempts
      FROM unnest(CAST(:kinds AS text[]), CAST(:payloads AS text[]),
                  CAST(:workspaces AS text[]), CAST(:sessions AS text[]),
                  CAST(:lock_keys AS text[]), CAST(:dedupe_keys AS text[]),
                  CAST(:priorities AS smallint[]), CAST(:max_attempts AS integer[]))
           AS j(kind, payload, workspace, session, lock_key, dedupe_key, priority, max_attempts)
    ON CONFLICT (dedupe_key) WHERE status = 'todo' AND dedupe_key IS NOT NULL DO NOTHING
    """
)

# A dream is not queued while one of the same key runs; a manual request finding an automatic
# one waiting takes its place and brings it forward.
_INSERT_DREAM = text(
    """
    INSERT INTO jobs (kind, payload, workspace_name, lock_key, dedupe_key, priority,
                      max_attempts, scheduled_at)
    SELECT :kind, :payload, :workspace, :lock_key, :dedupe_key, :priority, :max_attempts,
           now() + make_interval(secs => :delay)
    WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE lock_key = :lock_key AND status = 'doing')
    ON CONFLICT (dedupe_key) WHERE status = 'todo' AND dedupe_key IS NOT NULL
    DO UPDATE SET payload = excluded.payload,
                  scheduled_at = least(jobs.scheduled_at, excluded.scheduled_at)
    WHERE coalesce((jobs.payload->>'automatic')::boolean, false)
      AND NOT coalesce((excluded.payload->>'automatic')::boolean, false)
    """
).bindparams(bindparam("payload", type_=JSONB))

# One delivery job per endpoint registered now, each carrying its endpoint's id and URL.
_FAN_OUT = text(
    """
    INSERT INTO jobs (kind, payload, workspace_name, max_attempts)
    SELECT CAST(:kind AS text),
           jsonb_build_object('kind', CAST(:kind AS text), 'endpoint_id', w.id, 'url', w.url,
                              'event', CAST(:event AS jsonb)),
           w.workspace_name, :max_attempts
      FROM webhook_endpoints w WHERE w.workspace_name = :workspace
    RETURNING id
    """
)

# Times are clock_timestamp(), not now() (the transaction's start): a claim whose transaction
# began before its work unit's previous job finished must not look as if it overlapped it.
# todo → doing: the oldest due job whose work unit is not running, of a kind this worker may
# run now; jobs of priority ``prefer`` or above first (a lane that keeps bulk work moving), in
# the same statement. SKIP LOCKED lets concurrent workers pass over rows another one is
# claiming. A job of a work unit must also be its unit's first waiting job: otherwise a claim
# that skipped the first (locked by a concurrent claim not yet committed) would take the
# second and run it first (the unit's unique 'doing' index then fails the other claim).
#
# Batches: when that job is of a kind claimed in batches (``rules``: many small jobs one
# handler call does better together: message embeddings), small (at most ``small`` items in
# its payload's list ``items``) and on its first attempt, the same statement also takes up
# to ``size`` - 1 further due small first-attempt jobs of its kind, in the same order (oldest
# first). A job that was tried before (it failed, or its worker died) is claimed alone, so a
# poison job costs its batch-mates at most the one attempt it shared.
#
# ``ready``: whether another due job this worker may run was left waiting (as the statement
# saw the queue): the worker then wakes another lane and claims again after this one, and
# otherwise lets notifications and the poll wake it, instead of a claim that finds nothing.
_CLAIM = text(
    """
    WITH first AS (
        SELECT j.id, j.kind, j.attempts, j.payload FROM jobs j
        WHERE j.status = 'todo' AND j.scheduled_at <= now()
          AND j.priority BETWEEN :min_priority AND :max_priority
          AND NOT (j.kind = ANY(CAST(:blocked AS text[])))
          AND (j.lock_key IS NULL OR (
                NOT EXISTS (
                    SELECT 1 FROM jobs d WHERE d.lock_key = j.lock_key AND d.status = 'doing')
                AND NOT EXISTS (
                    SELECT 1 FROM jobs e
                    WHERE e.status = 'todo' AND e.lock_key = j.lock_key
                      AND (e.priority, e.scheduled_at, e.id)
                          < (j.priority, j.scheduled_at, j.id))))
        ORDER BY j.priority >= :prefer DESC, j.priority, j.scheduled_at, j.id
        FOR UPDATE SKIP LOCKED
        LIMIT 1
    ), rule AS (
        SELECT r.size, r.items, r.small FROM first f
          JOIN unnest(CAST(:rule_kinds AS text[]), CAST(:rule_items AS text[]),
                      CAST(:rule_sizes AS int[]), CAST(:rule_smalls AS int[]))
               AS r(kind, items, size, small) ON r.kind = f.kind
         WHERE f.attempts = 0
           AND jsonb_array_length(coalesce(f.payload -> r.items, '[]')) <= r.small
    ), mates AS (
        SELECT j.id FROM jobs j, first f, rule r
        WHERE j.kind = f.kind AND j.id <> f.id AND j.attempts = 0
          AND j.status = 'todo' AND j.scheduled_at <= now() AND j.lock_key IS NULL
          AND jsonb_array_length(coalesce(j.payload -> r.items, '[]')) <= r.small
        ORDER BY j.priority, j.scheduled_at, j.id
        FOR UPDATE OF j SKIP LOCKED
        LIMIT greatest((SELECT size FROM rule) - 1, 0)
    ), picked AS (
        SELECT id FROM first UNION ALL SELECT id FROM mates
    ), rest AS (
        SELECT EXISTS (
            SELECT 1 FROM jobs j
            WHERE j.status = 'todo' AND j.scheduled_at <= now()
              AND j.priority BETWEEN :min_priority AND :max_priority
              AND NOT (j.kind = ANY(CAST(:blocked AS text[])))
              AND j.id NOT IN (SELECT id FROM picked)
              AND (j.lock_key IS NULL OR NOT EXISTS (
                    SELECT 1 FROM jobs d WHERE d.lock_key = j.lock_key AND d.status = 'doing'))
        ) AS ready
    )
    UPDATE jobs SET status = 'doing', attempts = attempts + 1, started_at = clock_timestamp(),
                    heartbeat_at = now(), worker_id = :worker
    WHERE id = ANY(ARRAY(SELECT id FROM picked))
    RETURNING id, kind, payload, attempts, max_attempts, (SELECT ready FROM rest) AS ready
    """
)

_USAGE_SUM = """
    CASE WHEN CAST(:usage AS jsonb) IS NULL THEN j.usage ELSE (
        SELECT jsonb_object_agg(k, coalesce((j.usage->>k)::bigint, 0)
                                   + coalesce((CAST(:usage AS jsonb)->>k)::bigint, 0))
          FROM jsonb_object_keys(coalesce(j.usage, '{}'::jsonb) || CAST(:usage AS jsonb)) AS k)
    END
"""

# doing → succeeded.
_SUCCEED = text(
    f"""
    UPDATE jobs j SET status = 'succeeded', finished_at = clock_timestamp(), last_error = NULL,
                      raw_output = NULL, usage = {_USAGE_SUM}
    WHERE j.id = :id AND j.status = 'doing'
    """
)

# doing → succeeded, for a whole batch in one statement (jobs that had no LLM usage).
_SUCCEED_MANY = text(
    """
    UPDATE jobs SET status = 'succeeded', finished_at = clock_timestamp(), last_error = NULL,
                    raw_output = NULL
    WHERE id = ANY(CAST(:ids AS bigint[])) AND status = 'doing'
    """
)

# Every "back to todo": fail (attempts left), wait, release, stale, retry. One statement per
# job: to ``todo``, or ``superseded`` when a twin already waits (the unique index allows one
# ``todo`` per dedupe key), or ``failed`` when ``give_up`` (or, for ``stale``, when no
# attempt is left).
_BACK = text(
    f"""
    WITH me AS (
        SELECT id, dedupe_key FROM jobs
         WHERE id = :id AND status = ANY(CAST(:from_states AS text[]))
           AND (NOT :only_stale OR heartbeat_at < now() - CAST(:stale_after AS interval))
         FOR UPDATE
    ), twin AS (
        SELECT o.id FROM jobs o JOIN me ON o.dedupe_key = me.dedupe_key
         WHERE o.status = 'todo' AND o.id <> me.id LIMIT 1
    ), decided AS (
        SELECT me.id,
               CASE WHEN :give_up OR (:exhausted_fails AND j.attempts >= j.max_attempts)
                    THEN 'failed'
                    WHEN EXISTS (SELECT 1 FROM twin) THEN 'superseded'
                    ELSE 'todo' END AS next
          FROM me JOIN jobs j ON j.id = me.id
    )
    UPDATE jobs j SET
        status = d.next,
        attempts = CASE WHEN :reset THEN 0 ELSE greatest(j.attempts - :refund, 0) END,
        scheduled_at = CASE WHEN d.next = 'todo'
                            THEN coalesce(CAST(:retry_at AS timestamptz), now())
                            ELSE j.scheduled_at END,
        finished_at = CASE WHEN d.next = 'todo' THEN NULL ELSE clock_timestamp() END,
        worker_id = NULL,
        last_error = CASE WHEN d.next = 'superseded'
                          THEN 'superseded by job ' || (SELECT id FROM twin)
                               || coalesce(' after: ' || CAST(:error AS text),
                                           ' after: ' || j.last_error, '')
                          ELSE coalesce(CAST(:error AS text), j.last_error) END,
        raw_output = coalesce(CAST(:raw_output AS text), j.raw_output),
        usage = {_USAGE_SUM}
    FROM decided d WHERE j.id = d.id
    RETURNING j.status
    """
)

_STALE = text(
    """
    SELECT id FROM jobs WHERE status = 'doing'
       AND heartbeat_at < now() - CAST(:stale_after AS interval)
    ORDER BY id LIMIT :limit
    """
)

_RETRYABLE = text(
    """
    SELECT id FROM jobs WHERE status IN ('failed', 'superseded')
       AND (CAST(:ids AS bigint[]) IS NULL OR id = ANY(CAST(:ids AS bigint[])))
    ORDER BY id
    """
)

_CANCEL = text(
    """
    DELETE FROM jobs
     WHERE workspace_name = :workspace AND id <> :except_job
       AND status IN ('todo', 'failed', 'superseded')
       AND (CAST(:session AS text) IS NULL OR session_name = :session)
       AND (CAST(:kind AS text) IS NULL OR kind = :kind)
       AND (CAST(:endpoint AS text) IS NULL OR payload->>'endpoint_id' = :endpoint)
       AND (CAST(:peer AS text) IS NULL
            OR payload->>'observed' = :peer OR payload->>'observer' = :peer)
    """
)

# Running jobs that may write about a peer being erased, other than ``except_job``: those
# whose payload names it (observed, observer, one of a derivation's observers), and every
# memory job (derivation, summary, card, dream) of the workspace that started before the
# peer's tombstone was surely committed (it may have read the peer as a member; a job
# claimed later sees it gone). The window is fixed, so a busy workspace cannot starve it.
_RUNNING_FOR_PEER = text(
    """
    SELECT count(*) FROM jobs j
     WHERE j.workspace_name = :workspace AND j.id <> :except_job AND j.status = 'doing'
       AND (j.payload->>'observed' = :peer OR j.payload->>'observer' = :peer
            OR j.payload->'observers' @> jsonb_build_array(CAST(:peer AS text))
            OR (j.kind IN ('derive', 'summarize', 'card', 'dream')
                AND j.started_at <= (
                    SELECT p.deleted_at + interval '1 minute' FROM peers p
                     WHERE p.workspace_name = :workspace AND p.name = :peer)))
    """
)


def job_arrays(payloads: Sequence[JobPayload]) -> dict[str, list[Any]]:
    """Jobs due now as column arrays, in the order ``_INSERT_MANY`` unnests them (the ingest
    statement, ``db.repositories.ingest``, inserts its planned jobs from the same arrays)."""
    units = [payload.unit() for payload in payloads]
    return {
        "kinds": [payload.kind for payload in payloads],
        "payloads": [payload.model_dump_json() for payload in payloads],
        "workspaces": [unit.workspace for unit in units],
        "sessions": [unit.session for unit in units],
        "lock_keys": [unit.lock_key for unit in units],
        "dedupe_keys": [unit.dedupe_key for unit in units],
        "priorities": [payload.priority for payload in payloads],
        "max_attempts": [payload.max_attempts for payload in payloads],
    }


class QueueRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    # ---- enqueue ------------------------------------------------------------------------

    async def insert(
        self,
        payload: JobPayload,
        *,
        delay_seconds: float = 0.0,
        max_attempts: int | None = None,
        merge_manual_over_automatic: bool = False,
    ) -> None:
        """Insert a job in the caller's transaction (it exists only if the caller commits).
        A twin already waiting (same dedupe key) makes this a no-op: it will do the work."""
        unit = payload.unit()
        params = {
            "kind": payload.kind,
            "payload": payload.model_dump(mode="json"),
            "workspace": unit.workspace,
            "session": unit.session,
            "lock_key": unit.lock_key,
            "dedupe_key": unit.dedupe_key,
            "priority": payload.priority,
            "max_attempts": max_attempts or payload.max_attempts,
            "delay": delay_seconds,
        }
        if merge_manual_over_automatic:
            params.pop("session")
            await self.db.execute(_INSERT_DREAM, params)
        else:
            await self.db.execute(_INSERT, params)

    async def insert_many(self, payloads: Sequence[JobPayload]) -> None:
        """:meth:`insert` of several jobs due now, in one statement (not dreams: a dream's
        insert merges with a waiting one)."""
        if not payloads:
            return
        params = job_arrays(payloads)
        connection = await self.db.connection()  # Core execution: no ORM pass (ingest path)
        await connection.execute(_INSERT_MANY, params)

    async def fan_out_webhook(self, workspace: str, event: dict[str, Any]) -> int:
        """One ``deliver_webhook`` job per endpoint of ``workspace``; returns how many."""
        params = {
            "kind": "deliver_webhook",
            "event": json.dumps(event),
            "workspace": workspace,
            "max_attempts": DeliverWebhook.max_attempts,
        }
        return len((await self.db.execute(_FAN_OUT, params)).all())

    # ---- a worker's transitions ---------------------------------------------------------

    async def claim(
        self,
        worker: str,
        *,
        blocked: Sequence[str] = (),
        min_priority: int = -32768,
        max_priority: int = 32767,
        prefer: int = -32768,
        batch: Mapping[str, BatchRule] | None = None,
    ) -> Claim | None:
        """``claim``: jobs of priority ``min_priority`` to ``max_priority`` only (a range of
        the claim index: the bulk jobs a paced worker leaves are not even read); those of
        ``prefer`` or above before the rest. ``batch``: the kinds claimed in batches, and how (see
        :data:`_CLAIM`); other kinds, one job a claim."""
        rules = {k: r for k, r in (batch or {}).items() if r.size > 1}
        params = {
            "worker": worker,
            "blocked": list(blocked),
            "min_priority": min_priority,
            "max_priority": max_priority,
            "prefer": prefer,
            "rule_kinds": list(rules),
            "rule_items": [r.items for r in rules.values()],
            "rule_sizes": [r.size for r in rules.values()],
            "rule_smalls": [r.small for r in rules.values()],
        }
        rows = (await self.db.execute(_CLAIM, params)).all()
        if not rows:
            return None
        jobs = sorted(
            (ClaimedJob(r.id, r.kind, r.payload, r.attempts, r.max_attempts) for r in rows),
            key=lambda j: j.id,
        )
        return Claim(jobs, bool(rows[0].ready))

    async def succeed(self, job_id: int, usage: dict[str, int] | None = None) -> None:
        params = {"id": job_id, "usage": json.dumps(usage) if usage else None}
        await self.db.execute(_SUCCEED, params)

    async def succeed_many(self, job_ids: Sequence[int]) -> None:
        """``succeed`` for every job of a batch, in one statement."""
        await self.db.execute(_SUCCEED_MANY, {"ids": list(job_ids)})

    async def heartbeat(self, job_ids: int | Sequence[int]) -> None:
        """The running jobs ``job_ids`` (one, or a whole batch) are alive: one statement."""
        ids = [job_ids] if isinstance(job_ids, int) else list(job_ids)
        await self.db.execute(
            text(
                "UPDATE jobs SET heartbeat_at = now()"
                " WHERE id = ANY(CAST(:ids AS bigint[])) AND status = 'doing'"
            ),
            {"ids": ids},
        )

    async def fail(
        self,
        job_id: int,
        error: str,
        retry_at: datetime | None,
        *,
        usage: dict[str, int] | None = None,
        raw_output: str | None = None,
    ) -> State | None:
        """``fail``: an attempt spent; back to ``todo`` at ``retry_at`` (or superseded by a
        waiting twin), or ``failed`` for good when ``retry_at`` is None."""
        return await self._back(
            job_id,
            ("doing",),
            error=error,
            retry_at=retry_at,
            give_up=retry_at is None,
            usage=usage,
            raw_output=raw_output,
        )

    async def wait(
        self,
        job_id: int,
        reason: str,
        *,
        retry_at: datetime | None = None,
        usage: dict[str, int] | None = None,
    ) -> State | None:
        """``wait`` / ``release``: back to ``todo`` with the attempt given back (a dependency
        is down or missing, or the worker is stopping), or superseded by a waiting twin."""
        return await self._back(
            job_id, ("doing",), error=reason, retry_at=retry_at, refund=1, usage=usage
        )

    # ---- recovery and operators ---------------------------------------------------------

    async def stale(self, older_than: timedelta, limit: int = 1000) -> list[int]:
        """Jobs whose worker stopped sending heartbeats."""
        params = {"stale_after": older_than, "limit": limit}
        return [int(r.id) for r in (await self.db.execute(_STALE, params)).all()]

    async def requeue_stale(self, job_id: int, older_than: timedelta) -> State | None:
        """``stale``: one job of a dead worker back to ``todo`` (superseded by a waiting twin,
        or ``failed`` if that was its last attempt). None if it is no longer stale."""
        return await self._back(
            job_id,
            ("doing",),
            error="its worker stopped responding",
            exhausted_fails=True,
            only_stale=older_than,
        )

    async def retryable(self, job_ids: Sequence[int] | None = None) -> list[int]:
        params = {"ids": list(job_ids) if job_ids is not None else None}
        return [int(r.id) for r in (await self.db.execute(_RETRYABLE, params)).all()]

    async def retry(self, job_id: int) -> State | None:
        """``retry``: a failed or superseded job back to ``todo`` with fresh attempts."""
        return await self._back(job_id, ("failed", "superseded"), reset=True)

    async def cancel(
        self,
        workspace: str,
        *,
        session: str | None = None,
        kind: str | None = None,
        endpoint_id: str | None = None,
        peer: str | None = None,
        except_job: int = 0,
    ) -> None:
        """``cancel``: drop the pending, failed and superseded jobs about deleted data (a job
        in flight finishes its attempt and finds the data gone). ``peer``: only the jobs whose
        observed or observer is that peer."""
        params = {
            "workspace": workspace,
            "session": session,
            "kind": kind,
            "endpoint": endpoint_id,
            "peer": peer,
            "except_job": except_job,
        }
        await self.db.execute(_CANCEL, params)

    async def running_for_peer(self, workspace: str, peer: str, *, except_job: int = 0) -> int:
        """How many jobs about ``peer`` are running now (see :data:`_RUNNING_FOR_PEER`)."""
        params = {"workspace": workspace, "peer": peer, "except_job": except_job}
        return int((await self.db.execute(_RUNNING_FOR_PEER, params)).scalar_one())

    async def purge_finished(self, older_than: timedelta) -> int:
        """Forget jobs that succeeded (or were superseded) long ago; failed ones stay."""
        stmt = text(
            "DELETE FROM jobs WHERE status IN ('succeeded', 'superseded')"
            " AND finished_at < now() - CAST(:age AS interval) RETURNING id"
        )
        return len((await self.db.execute(stmt, {"age": older_than})).all())

    async def pending_count(self, workspace: str | None = None) -> int:
        stmt = text(
            "SELECT count(*) FROM jobs WHERE status IN ('todo', 'doing')"
            " AND (CAST(:ws AS text) IS NULL OR workspace_name = :ws)"
        )
        return int((await self.db.execute(stmt, {"ws": workspace})).scalar_one())

    # ---- the one "back to todo" statement -----------------------------------------------

    async def _back(
        self,
        job_id: int,
        from_states: Sequence[State],
        *,
        error: str | None = None,
        retry_at: datetime | None = None,
        give_up: bool = False,
        exhausted_fails: bool = False,
        refund: int = 0,
        reset: bool = False,
        usage: dict[str, int] | None = None,
        raw_output: str | None = None,
        only_stale: timedelta | None = None,
    ) -> State | None:
        params = {
            "id": job_id,
            "from_states": list(from_states),
            "error": error[:MAX_ERROR_CHARS] if error is not None else None,
            "retry_at": retry_at,
            "give_up": give_up,
            "exhausted_fails": exhausted_fails,
            "refund": refund,
            "reset": reset,
            "usage": json.dumps(usage) if usage else None,
            "raw_output": raw_output[:MAX_RAW_OUTPUT_CHARS] if raw_output is not None else None,
            "only_stale": only_stale is not None,
            "stale_after": only_stale or timedelta(0),
        }
        # A twin committed by a concurrent enqueue at this very instant is invisible to the
        # statement's snapshot but caught by the unique index: run it again, and it sees the
        # twin and supersedes.
        for _ in range(3):
            try:
                async with self.db.begin_nested():
                    row = (await self.db.execute(_BACK, params)).first()
                return None if row is None else cast(State, row.status)
            except IntegrityError:
                continue
        raise RuntimeError(f"job {job_id}: could not move it back to the queue")
