"""The durable job queue: the bottom layer every other part enqueues through.

- :mod:`.payloads`: one typed payload per job kind, and what the queue knows of each kind.
- :mod:`.states`: the state machine (state x event -> state), written down once.
- :mod:`.repository`: every statement on the ``jobs`` table.

Jobs are inserted in the caller's transaction (they exist only if the data that causes them
commits) and run by ``honcho_server.worker``; handlers live in ``worker/kinds/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from .events import enqueue_event as enqueue_webhook_event
from .events import enqueue_queue_empty, enqueue_test_event, new_event
from .payloads import (
    PAYLOADS,
    AnyPayload,
    CardPayload,
    DeleteSession,
    DeleteWorkspace,
    DeliverWebhook,
    DerivePayload,
    DreamPayload,
    EmbedConclusions,
    EmbedMessages,
    ErasePeer,
    JobPayload,
    Need,
    Probe,
    SummarizePayload,
    WebhookEvent,
    embed_conclusions_jobs,
    embed_messages_jobs,
)
from .repository import Claim, ClaimedJob, QueueRepository

__all__ = [
    "PAYLOADS",
    "AnyPayload",
    "CardPayload",
    "Claim",
    "ClaimedJob",
    "DeleteSession",
    "DeleteWorkspace",
    "DeliverWebhook",
    "DerivePayload",
    "DreamPayload",
    "EmbedConclusions",
    "EmbedMessages",
    "ErasePeer",
    "JobPayload",
    "Need",
    "Probe",
    "QueueRepository",
    "SummarizePayload",
    "WebhookEvent",
    "embed_conclusions_jobs",
    "embed_messages_jobs",
    "enqueue",
    "enqueue_all",
    "enqueue_queue_empty",
    "enqueue_test_event",
    "enqueue_webhook_event",
    "new_event",
    "retry_jobs",
]

#: A running job must heartbeat more often than this, or it is taken for orphaned (the
#: default of ``JOB_STALE_AFTER_SECONDS``).
STALE_AFTER = timedelta(seconds=60)


async def enqueue(
    db: AsyncSession,
    payload: JobPayload,
    *,
    delay_seconds: float = 0.0,
    max_attempts: int | None = None,
) -> None:
    """Queue ``payload`` in the caller's transaction. A no-op when a twin (same work unit)
    already waits — it reads the current state when it runs, so it covers this one too —
    except that a manual dream takes the place of a waiting automatic one."""
    await QueueRepository(db).insert(
        payload,
        delay_seconds=float(delay_seconds),
        max_attempts=max_attempts,
        merge_manual_over_automatic=isinstance(payload, DreamPayload),
    )


async def enqueue_all(db: AsyncSession, payloads: Iterable[JobPayload]) -> None:
    """:func:`enqueue` of each payload, due now, in one statement (dreams one by one: a
    manual one may take a waiting automatic one's place)."""
    dreams: list[JobPayload] = []
    batch: list[JobPayload] = []
    for payload in payloads:
        (dreams if isinstance(payload, DreamPayload) else batch).append(payload)
    await QueueRepository(db).insert_many(batch)
    for dream in dreams:
        await enqueue(db, dream)


async def retry_jobs(
    db: AsyncSession,
    job_ids: Sequence[int] | None = None,
    *,
    stale_after: timedelta = STALE_AFTER,
) -> dict[str, int]:
    """``retry`` for every failed or superseded job (or those of ``job_ids``), and ``stale``
    for orphaned ones (``doing`` with no heartbeat). Returns how many ended in each state."""
    repo = QueueRepository(db)
    outcome: dict[str, int] = {}
    for job_id in await repo.retryable(job_ids):
        state = await repo.retry(job_id)
        if state is not None:
            outcome[state] = outcome.get(state, 0) + 1
    for job_id in await repo.stale(stale_after):
        if job_ids is None or job_id in job_ids:
            state = await repo.requeue_stale(job_id, stale_after)
            if state is not None:
                outcome[state] = outcome.get(state, 0) + 1
    return outcome
