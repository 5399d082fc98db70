"""Every job kind's payload: one pydantic model per kind, stored as the job's ``payload``.

A payload class also says, once, everything the queue needs to know about its kind: which
dependency it needs (``needs``: an LLM feature or the embedder; a worker without it, or
while it is down, does not claim the kind), its priority, its attempts, and its work unit
(``unit()``: the workspace and session it belongs to, the ``lock_key`` that serialises runs
and the ``dedupe_key`` that collapses pending twins).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Field

#: What a kind needs besides the database: an LLM feature, or the embedder.
LLMNeed = Literal["deriver", "summary", "dream"]
Need = Literal[LLMNeed, "embedder"]

#: Lower runs first. User-facing memory (derivation, summaries, cards, dreams) and
#: housekeeping run before bulk embedding; embedding still cannot starve, because one lane
#: of every worker looks for embedding work first (see ``worker.runner``).
NORMAL_PRIORITY = 0
BULK_PRIORITY = 10
MAX_IDS_PER_JOB = 100
#: How many ``embed_messages`` jobs one claim may take (their messages are embedded in one
#: model call and the jobs completed in one statement), of those with at most
#: ``EMBED_BATCH_SMALL_JOB`` messages (most often one: an ingest request's). A bigger job
#: (a bulk ingest, ``reembed``) already embeds many messages at once and is claimed alone, so
#: a batch is at most 16 x 8 messages and bulk work becomes searchable 100 at a time.
EMBED_BATCH_JOBS = 16
EMBED_BATCH_SMALL_JOB = 8


@dataclass(frozen=True)
class WorkUnit:
    workspace: str | None = None
    session: str | None = None
    lock_key: str | None = None
    dedupe_key: str | None = None


class JobPayload(BaseModel):
    kind: str
    needs: ClassVar[Need | None] = None
    priority: ClassVar[int] = NORMAL_PRIORITY
    max_attempts: ClassVar[int] = 5
    #: How many due jobs of this kind one claim may take together (1: one at a time). Only
    #: for kinds without a lock key whose handler runs a batch (``worker.runner``); only jobs
    #: whose list ``batch_items`` has at most ``batch_small`` items are batched.
    batch: ClassVar[int] = 1
    batch_items: ClassVar[str] = ""
    batch_small: ClassVar[int] = 0

    def unit(self) -> WorkUnit:
        return WorkUnit()


# ---- deriver ------------------------------------------------------------------------------


def derive_key(workspace: str, session: str, observed: str) -> str:
    return f"derive:{workspace}/{session}/{observed}"


def summarize_key(workspace: str, session: str) -> str:
    return f"summarize:{workspace}/{session}"


def card_key(workspace: str, observer: str, observed: str) -> str:
    return f"card:{workspace}/{observer}/{observed}"


class DerivePayload(JobPayload):
    """Conclusions about ``observed`` from its new messages in ``session``."""

    kind: Literal["derive"] = "derive"
    needs: ClassVar[Need | None] = "deriver"
    workspace: str
    session: str
    observed: str
    observers: list[str]

    def unit(self) -> WorkUnit:
        key = derive_key(self.workspace, self.session, self.observed)
        return WorkUnit(self.workspace, self.session, key, key)


class SummarizePayload(JobPayload):
    kind: Literal["summarize"] = "summarize"
    needs: ClassVar[Need | None] = "summary"
    workspace: str
    session: str
    seq: int  # the message that reached the threshold (the job summarises up to the latest)

    def unit(self) -> WorkUnit:
        key = summarize_key(self.workspace, self.session)
        return WorkUnit(self.workspace, self.session, key, key)


class CardPayload(JobPayload):
    kind: Literal["card"] = "card"
    needs: ClassVar[Need | None] = "deriver"
    workspace: str
    observer: str
    observed: str

    def unit(self) -> WorkUnit:
        key = card_key(self.workspace, self.observer, self.observed)
        return WorkUnit(self.workspace, None, key, key)


# ---- dreams -------------------------------------------------------------------------------

DreamType = Literal["omni", "card_refresh"]


def dream_key(dream_type: str, workspace: str, observer: str, observed: str) -> str:
    """Lock and dedupe key: one pending and one running dream per type and collection."""
    return f"dream:{dream_type}:{workspace}/{observer}/{observed}"


class DreamPayload(JobPayload):
    """One dream over the collection (workspace, observer, observed).

    ``session`` stamps what the dream creates and selects the session configuration (a
    manual dream's request; an automatic one finds it when it runs). ``rebuild`` withholds
    the current card from a ``card_refresh``. ``automatic`` dreams wait for the observed
    peer to go quiet; manual ones run at once.
    """

    kind: Literal["dream"] = "dream"
    needs: ClassVar[Need | None] = "dream"
    workspace: str
    observer: str
    observed: str
    dream_type: DreamType
    session: str | None = None
    rebuild: bool = False
    automatic: bool = False

    def unit(self) -> WorkUnit:
        key = dream_key(self.dream_type, self.workspace, self.observer, self.observed)
        return WorkUnit(self.workspace, None, key, key)


# ---- embeddings ---------------------------------------------------------------------------


class EmbedMessages(JobPayload):
    kind: Literal["embed_messages"] = "embed_messages"
    needs: ClassVar[Need | None] = "embedder"
    priority: ClassVar[int] = BULK_PRIORITY
    batch: ClassVar[int] = EMBED_BATCH_JOBS
    batch_items: ClassVar[str] = "message_ids"
    batch_small: ClassVar[int] = EMBED_BATCH_SMALL_JOB
    workspace: str
    message_ids: list[int] = Field(min_length=1, max_length=MAX_IDS_PER_JOB)
    session: str | None = Field(default=None, exclude=True)  # for the row, not the payload

    def unit(self) -> WorkUnit:
        return WorkUnit(self.workspace, self.session)


class EmbedConclusions(JobPayload):
    kind: Literal["embed_conclusions"] = "embed_conclusions"
    needs: ClassVar[Need | None] = "embedder"
    priority: ClassVar[int] = BULK_PRIORITY
    workspace: str
    conclusion_ids: list[str] = Field(min_length=1, max_length=MAX_IDS_PER_JOB)

    def unit(self) -> WorkUnit:
        return WorkUnit(self.workspace)


def embed_messages_jobs(
    workspace: str, session: str | None, message_ids: list[int]
) -> list[EmbedMessages]:
    return [
        EmbedMessages(
            workspace=workspace,
            session=session,
            message_ids=message_ids[i : i + MAX_IDS_PER_JOB],
        )
        for i in range(0, len(message_ids), MAX_IDS_PER_JOB)
    ]


def embed_conclusions_jobs(workspace: str, ids: list[str]) -> list[EmbedConclusions]:
    return [
        EmbedConclusions(workspace=workspace, conclusion_ids=ids[i : i + MAX_IDS_PER_JOB])
        for i in range(0, len(ids), MAX_IDS_PER_JOB)
    ]


# ---- deletion -----------------------------------------------------------------------------


class DeleteSession(JobPayload):
    kind: Literal["delete_session"] = "delete_session"
    workspace: str
    session: str

    def unit(self) -> WorkUnit:
        return WorkUnit(
            self.workspace,
            self.session,
            lock_key=f"session:{self.workspace}/{self.session}",
            dedupe_key=f"delete_session:{self.workspace}/{self.session}",
        )


class DeleteWorkspace(JobPayload):
    kind: Literal["delete_workspace"] = "delete_workspace"
    workspace: str

    def unit(self) -> WorkUnit:
        return WorkUnit(
            self.workspace,
            lock_key=f"workspace:{self.workspace}",
            dedupe_key=f"delete_workspace:{self.workspace}",
        )


class ErasePeer(JobPayload):
    """Erase a peer the API has hidden (``peers.deleted_at``): its messages, conclusions by
    or about it, cards, dream state and jobs, then its row."""

    kind: Literal["erase_peer"] = "erase_peer"
    workspace: str
    peer: str

    def unit(self) -> WorkUnit:
        return WorkUnit(
            self.workspace,
            lock_key=f"peer:{self.workspace}/{self.peer}",
            dedupe_key=f"erase_peer:{self.workspace}/{self.peer}",
        )


# ---- webhooks -----------------------------------------------------------------------------


class WebhookEvent(BaseModel):
    id: str  # sent as a header, not in the body
    type: str
    data: dict[str, Any]
    timestamp: str


class DeliverWebhook(JobPayload):
    """One event to one endpoint. Fanned out in SQL (one job per endpoint registered when
    the event happened), so it is never built one by one: see ``QueueRepository.fan_out``."""

    kind: Literal["deliver_webhook"] = "deliver_webhook"
    max_attempts: ClassVar[int] = 10  # with the 2 s doubling backoff: about 17 minutes
    endpoint_id: str
    url: str
    event: WebhookEvent


# ---- diagnostics --------------------------------------------------------------------------


class Probe(JobPayload):
    """Proves end to end that a worker picks up and finishes work; what the queue's own tests
    use to observe claiming, ordering, retries and recovery."""

    kind: Literal["probe"] = "probe"
    note: str = ""
    sleep_seconds: float = Field(default=0.0, ge=0, le=3600)
    sleep_on_attempts: int = Field(default=1_000_000, ge=1)  # sleep only up to this attempt
    fail: bool = False
    lock_key: str | None = Field(default=None, exclude=True)

    def unit(self) -> WorkUnit:
        return WorkUnit(lock_key=self.lock_key)


AnyPayload = Annotated[
    DerivePayload
    | SummarizePayload
    | CardPayload
    | DreamPayload
    | EmbedMessages
    | EmbedConclusions
    | DeleteSession
    | DeleteWorkspace
    | ErasePeer
    | DeliverWebhook
    | Probe,
    Field(discriminator="kind"),
]

#: kind → payload class: the one list of job kinds.
PAYLOADS: dict[str, type[JobPayload]] = {
    cls.model_fields["kind"].default: cls
    for cls in (
        DerivePayload,
        SummarizePayload,
        CardPayload,
        DreamPayload,
        EmbedMessages,
        EmbedConclusions,
        DeleteSession,
        DeleteWorkspace,
        ErasePeer,
        DeliverWebhook,
        Probe,
    )
}


@dataclass(frozen=True)
class BatchRule:
    """Jobs of a kind claimed in batches: at most ``size`` together, each with at most
    ``small`` items in its payload's list ``items``."""

    size: int
    items: str
    small: int


@cache
def batch_rules() -> dict[str, BatchRule]:
    """kind → its :class:`BatchRule`, for the kinds claimed in batches."""
    return {
        kind: BatchRule(cls.batch, cls.batch_items, cls.batch_small)
        for kind, cls in PAYLOADS.items()
        if cls.batch > 1
    }


#: The kinds of bulk work (embeddings): claimed first by a worker's first lane, and held back
#: by the in-process worker while the API beside it is busy (``worker.pacing``).
BULK_KINDS = frozenset(kind for kind, cls in PAYLOADS.items() if cls.priority == BULK_PRIORITY)


def kinds_needing(needs: set[Need]) -> list[str]:
    """The kinds that need any of ``needs``."""
    return sorted(kind for kind, cls in PAYLOADS.items() if cls.needs in needs)
