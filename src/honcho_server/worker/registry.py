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


@dataclass(frozen=True)
class JobKind:
    payload: type[JobPayload]
    handler: Handler


JOB_KINDS: dict[str, JobKind] = {kind: JobKind(PAYLOADS[kind], h) for kind, h in HANDLERS.items()}


class UnknownJobKind(LookupError):
    pass


def lookup(kind: str) -> JobKind:
    try:
        return JOB_KINDS[kind]
    except KeyError:
        raise UnknownJobKind(f"no handler for job kind {kind!r}") from None
