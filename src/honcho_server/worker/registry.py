"""Every job kind's handler, by kind. The kinds and their payloads are listed once, in
``queue.payloads.PAYLOADS``; this module pairs each with the function that runs it.

A handler gets a ``JobContext``: short transactions for database work (never held across
an LLM, embedding or HTTP call) and ``ctx.completing()`` for the last writes, which commit
together with the job's success.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..queue import PAYLOADS, JobPayload
from ..queue.payloads import batch_rules
from .context import JobContext
from .kinds import card, deletion, derive, dream, embedding, probe, summarize, webhooks

Handler = Callable[[JobContext, Any], Awaitable[None]]

HANDLERS: dict[str, Handler] = {
    "delete_session": deletion.delete_session,
    "delete_workspace": deletion.delete_workspace,
    "erase_peer": deletion.erase_peer,
    "deliver_webhook": webhooks.deliver_webhook,
    "probe": probe.run_probe,
    "embed_messages": embedding.embed_messages,
    "embed_conclusions": embedding.embed_conclusions,
    "derive": derive.derive,
    "summarize": summarize.summarize,
    "card": card.refresh_card,
    "dream": dream.dream,
}
assert HANDLERS.keys() == PAYLOADS.keys(), "every job kind needs exactly one handler"


BatchHandler = Callable[[JobContext, list[Any]], Awaitable[None]]

#: Kinds claimed in batches (``JobPayload.batch`` > 1): the function that runs a whole batch
#: (its jobs' payloads, oldest first) and completes it with ``ctx.completing()``.
BATCH_HANDLERS: dict[str, BatchHandler] = {
    "embed_messages": embedding.embed_messages_batch,
}
assert BATCH_HANDLERS.keys() == batch_rules().keys(), "a batched kind needs a batch handler"


@dataclass(frozen=True)
class JobKind:
    payload: type[JobPayload]
    handler: Handler


JOB_KINDS: dict[str, JobKind] = {kind: JobKind(PAYLOADS[kind], h) for kind, h in HANDLERS.items()}


@dataclass(frozen=True)
class BatchKind:
    payload: type[JobPayload]
    handler: BatchHandler


class UnknownJobKind(LookupError):
    pass


def lookup(kind: str) -> JobKind:
    try:
        return JOB_KINDS[kind]
    except KeyError:
        raise UnknownJobKind(f"no handler for job kind {kind!r}") from None


def lookup_batch(kind: str) -> BatchKind:
    try:
        return BatchKind(PAYLOADS[kind], BATCH_HANDLERS[kind])
    except KeyError:
        raise UnknownJobKind(f"no batch handler for job kind {kind!r}") from None
