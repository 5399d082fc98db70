"""Every job kind the worker can run: kind → (payload model, handler).

A handler gets a ``JobContext``: short transactions for database work (never held across
an LLM, embedding or HTTP call) and ``ctx.completing()`` for the last writes, which commit
together with the job's success.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ..deriver.pipeline import DerivePayload, SummarizePayload
from ..dreams.payload import DREAM_KIND, DreamPayload
from .context import JobContext
from .kinds import card, deletion, derive, dream, embedding, probe, summarize, webhooks

Handler = Callable[[JobContext, Any], Awaitable[None]]


@dataclass(frozen=True)
class JobKind:
    payload: type[BaseModel]
    handler: Handler


JOB_KINDS: dict[str, JobKind] = {
    "delete_session": JobKind(deletion.DeleteSession, deletion.delete_session),
    "delete_workspace": JobKind(deletion.DeleteWorkspace, deletion.delete_workspace),
    webhooks.KIND: JobKind(webhooks.DeliverWebhook, webhooks.deliver_webhook),
    "probe": JobKind(probe.Probe, probe.run_probe),
    "embed_messages": JobKind(embedding.EmbedMessages, embedding.embed_messages),
    "embed_conclusions": JobKind(embedding.EmbedConclusions, embedding.embed_conclusions),
    "derive": JobKind(DerivePayload, derive.derive),
    "summarize": JobKind(SummarizePayload, summarize.summarize),
    "card": JobKind(card.CardPayload, card.refresh_card),
    DREAM_KIND: JobKind(DreamPayload, dream.dream),
}


class UnknownJobKind(LookupError):
    pass


def lookup(kind: str) -> JobKind:
    try:
        return JOB_KINDS[kind]
    except KeyError:
        raise UnknownJobKind(f"no handler for job kind {kind!r}") from None
