"""The ``derive`` job: conclusions about one sender from its new messages in one session.

Four named steps, never holding a transaction across the LLM or embedding call:
:func:`_read` (one short transaction: observers now, the sender's messages after its
watermark — at most ``MAX_NEW_TOKENS`` of them — some earlier conversation for context, and
what is already known); :func:`_ask` the model and embed its conclusions; then, in the
completing transaction, :func:`_look_up` what each observer's collection already holds,
:func:`~honcho_server.deriver.derive_plan.plan_collection` (pure) decides, and
:func:`_store` writes the plans, moves the watermark, queues embeddings, cards, dreams and —
when the unit is drained — a ``queue.empty`` event. A run that left messages behind queues
the next run.

Semantic de-duplication (BEHAVIOUR §14.6 rule 3): with an embedder, the new texts are
embedded before the writing transaction opens. Inside it, in a collection that already holds
embedded conclusions, each new conclusion is compared with its nearest live one of the same
level (and session, for explicit ones); within ``dedupe.SEMANTIC_MAX_DISTANCE`` it is a
paraphrase: the more specific text (``dedupe.new_text_wins``, tokens of the embedding model)
is kept with ``times_derived`` one above the stored row's, the other is dropped (the stored
row soft-deleted when the new text wins). Rows are inserted with their embedding, so they
need no embedding job; without an embedder (or when embedding fails) they get one as before.

Provenance: a deduction's ``source_ids`` are the ids of its premises — the collection's live
conclusions (or those written earlier in the same batch) whose text is one of the premises the
model cited (``dedupe.premise_key``: case, spacing and trailing punctuation aside); premises
matching nothing are left out; a row replaced by a paraphrase passes its citations on.

Peer cards: when the resolved ``peer_card.create`` is on, every observer that got a new
explicit conclusion gets a ``card`` job for (observer, sender) (see ``kinds/card.py``).
Dreams: when the resolved ``dream.enabled`` is on, those same collections are checked for an
automatic dream (``dreams/scheduling.py``; one query for all of them).

No LLM configured: the job goes back to the queue for later without spending an attempt.
An unavailable LLM, a rejected request or an invalid answer raise: the runner retries with
backoff and finally keeps the job as failed, with its error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ...db.models import vector_literal
from ...db.repositories.conclusion_rows import NewConclusionRow, Paraphrase
from ...db.repositories.conclusions import ConclusionRepository
from ...db.repositories.derivation import DerivationRepository, PendingMessage
from ...deriver import dedupe
from ...deriver.config import Resolved, defaults_from
from ...deriver.derive_plan import (
    Collection,
    CollectionPlan,
    NewConclusion,
    candidates,
    plan_collection,
)
from ...deriver.pipeline import (
    CONTEXT_MESSAGES,
    KNOWN_CONCLUSIONS,
    MAX_NEW_MESSAGES,
    CardPayload,
    DerivePayload,
    enqueue_card,
    enqueue_derive,
    lines,
    observers,
    session_config,
    take_by_tokens,
    to_llm,
)
from ...deriver.prompts import Extraction, extraction_prompt
from ...dreams.queueing import schedule_automatic_dreams
from ...embeddings import EmbeddingError
from ...ids import new_id
from ...llm import LLMClient
from ..context import JobContext
from .embedding import enqueue_embed_conclusions
from .llm_wait import client_or_wait
from .webhooks import enqueue_queue_empty

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reading:
    """What the first transaction read for one run."""

    watchers: list[str]  # observers of the sender now
    upto: int  # internal id of the last message taken: the new watermark
    more: bool  # messages were left for the next run
    new: list[PendingMessage]  # the taken messages to learn from (not skip_reasoning)
    earlier: list[PendingMessage]  # conversation before them, for context
    known: list[str]  # what the sender's own collection already says
    cfg: Resolved
    instructions: str | None

    @property
    def asks(self) -> bool:
        return bool(self.new and self.watchers)


async def derive(ctx: JobContext, job: DerivePayload) -> None:
    client = await client_or_wait(ctx, "deriver")
    if client is None:
        return
    async with ctx.transaction() as db:
        reading = await _read(ctx, DerivationRepository(db), job)
    if reading is None:
        return
    extraction = await _ask(ctx, client, job, reading)
    batch = candidates(job.session, tuple(r.public_id for r in reading.new), extraction)
    vectors = await _embed(ctx, batch)
    updates = [(u.outdated, u.current) for u in extraction.updates]
    async with ctx.completing() as db:
        plans = [
            plan_collection(
                await _look_up(db, job, observer, batch, vectors, updates),
                batch,
                vectors,
                updates,
                tokens=_tokenizer(ctx),
                new_id=new_id,
            )
            for observer in (reading.watchers if batch else [])
        ]
        await _store(ctx, db, job, reading, plans)


async def _read(ctx: JobContext, repo: DerivationRepository, job: DerivePayload) -> Reading | None:
    """None when there is nothing to do (the session is gone, or no message is pending)."""
    state = await repo.session_state(job.workspace, job.session)
    if state is None or not state.active:
        return None  # the session is gone: nothing to learn
    pending = await repo.pending_messages(
        job.workspace,
        job.session,
        job.observed,
        state.watermark(job.observed),
        MAX_NEW_MESSAGES + 1,
    )
    if not pending:
        return None
    batch = take_by_tokens(pending[:MAX_NEW_MESSAGES])
    new = [r for r in batch if not r.skip_reasoning]
    watchers = observers(state, job.observed)
    earlier: list[PendingMessage] = []
    known: list[str] = []
    if new and watchers:
        ids = [int(r.id) for r in new]
        earlier = await repo.context_before(
            job.workspace, job.session, ids[-1], ids, CONTEXT_MESSAGES
        )
        known = await ConclusionRepository(repo.db).known_explicit(
            job.workspace, job.observed, job.observed, KNOWN_CONCLUSIONS
        )
    cfg = session_config(state, defaults_from(ctx.services.settings))
    # the newest message's own instructions win over the session's (BEHAVIOUR §8.2)
    own = [r.custom_instructions for r in new if r.custom_instructions]
    return Reading(
        watchers=watchers,
        upto=int(batch[-1].id),
        more=len(pending) > len(batch),
        new=new,
        earlier=earlier,
        known=known,
        cfg=cfg,
        instructions=own[-1] if own else cfg.custom_instructions,
    )


async def _ask(
    ctx: JobContext, client: LLMClient, job: DerivePayload, reading: Reading
) -> Extraction:
    """The model's conclusions from the new messages (nothing to ask: an empty answer)."""
    if not reading.asks:
        return Extraction()
    prompt = extraction_prompt(
        job.observed,
        lines(reading.new),
        lines(reading.earlier),
        reading.known,
        reading.instructions,
    )
    result = await client.structured(to_llm(prompt), Extraction)
    ctx.record_usage(result.usage)
    return result.value


async def _look_up(
    db: AsyncSession,
    job: DerivePayload,
    observer: str,
    batch: list[dedupe.Candidate],
    vectors: dict[str, list[float]],
    updates: list[tuple[str, str]],
) -> Collection:
    """What the plan needs to know about one collection, read in the writing transaction:
    live rows with a candidate's exact key, live rows cited as premises or named as
    outdated, and — when the collection holds embedded rows — each candidate's nearest
    live paraphrases (enough of them to stay ahead of the rows the plan replaces)."""
    repo = ConclusionRepository(db)
    ws, observed = job.workspace, job.observed
    texts = sorted({dedupe.normalise(c.content) for c in batch})
    stored = await repo.with_contents(ws, observer, observed, texts)
    keys = {dedupe.premise_key(p) for c in batch for p in c.premises}
    keys |= {dedupe.premise_key(old) for old, _ in updates}
    premises = await repo.by_premise_keys(ws, observer, observed, sorted(k for k in keys if k))
    near: dict[str, list[Paraphrase]] = {}
    if vectors and await repo.has_embedded(ws, observer, observed):
        for c in batch:
            vector = vectors.get(c.content.strip())
            if vector is not None:
                near[c.content.strip()] = await repo.paraphrases(
                    ws,
                    observer,
                    observed,
                    vector,
                    level=c.level,
                    session=c.session,
                    k=len(batch) + 1,
                    max_distance=dedupe.SEMANTIC_MAX_DISTANCE,
                )
    stored_texts = [dedupe.Stored(s.id, s.level, s.content, s.session_name) for s in stored]
    return Collection(observer, stored_texts, premises, near)


async def _store(
    ctx: JobContext,
    db: AsyncSession,
    job: DerivePayload,
    reading: Reading,
    plans: list[CollectionPlan],
) -> None:
    """Write every collection's plan, move the watermark and queue what follows."""
    repo = DerivationRepository(db)
    for plan in plans:
        await _write(ctx, db, job, plan)
    await repo.set_watermark(job.workspace, job.session, job.observed, reading.upto)
    await _queue_follow_ups(ctx, db, job, reading, plans)


async def _write(
    ctx: JobContext, db: AsyncSession, job: DerivePayload, plan: CollectionPlan
) -> None:
    """One collection's plan, in the order :class:`CollectionPlan` lists its writes."""
    repo = ConclusionRepository(db)
    ws, observer, observed = job.workspace, plan.observer, job.observed
    for conclusion_id, times in plan.reinforce.items():
        await repo.reinforce([conclusion_id], times)
    for old, new in plan.repoint:
        await repo.repoint_sources(ws, [old], new)
    await repo.insert(ws, [_row(ctx, job, observer, r) for r in plan.insert])
    await repo.soft_delete_in(ws, observer, observed, plan.delete)
    await repo.supersede(ws, observer, observed, plan.supersede)


async def _queue_follow_ups(
    ctx: JobContext,
    db: AsyncSession,
    job: DerivePayload,
    reading: Reading,
    plans: list[CollectionPlan],
) -> None:
    """Embedding jobs for rows stored without one, cards and dreams for observers with a new
    explicit conclusion, and the next run (or, the unit drained, a ``queue.empty`` event)."""
    created = [i for plan in plans for i in plan.unembedded]
    if created:
        await enqueue_embed_conclusions(db, job.workspace, created)
    carded = [plan.observer for plan in plans if plan.carded]
    if reading.cfg.peer_card_create:
        for observer in carded:
            await enqueue_card(
                db, CardPayload(workspace=job.workspace, observer=observer, observed=job.observed)
            )
    if reading.cfg.dream_enabled and carded:
        await schedule_automatic_dreams(
            db, ctx.services.settings, job.workspace, carded, job.observed
        )
    if reading.more:
        await enqueue_derive(db, job.model_copy(update={"observers": reading.watchers}))
    else:
        await enqueue_queue_empty(
            db, job.workspace, "representation", job.session, None, job.observed
        )


def _row(ctx: JobContext, job: DerivePayload, observer: str, r: NewConclusion) -> NewConclusionRow:
    return NewConclusionRow(
        id=r.id,
        observer=observer,
        observed=job.observed,
        session_name=r.session,
        level=r.level,
        content=r.content,
        premises=r.premises,
        source_message_ids=r.source_message_ids,
        source_ids=r.source_ids,
        internal_metadata={"derived_by_job": ctx.job_id},
        embedding=vector_literal(r.embedding) if r.embedding is not None else None,
        times_derived=r.times_derived,
    )


async def _embed(ctx: JobContext, candidates: list[dedupe.Candidate]) -> dict[str, list[float]]:
    """Embeddings of the candidates' trimmed texts (no transaction open); empty without an
    embedder or when embedding fails (the rows then get an embedding job)."""
    embedder = ctx.services.embedder
    texts = list(dict.fromkeys(c.content.strip() for c in candidates if c.content.strip()))
    if embedder is None or not texts:
        return {}
    try:
        vectors = await embedder.embed(texts, background=True)
    except EmbeddingError as exc:
        log.warning(
            "job %d: embedding new conclusions failed, no semantic de-dup: %s", ctx.job_id, exc
        )
        return {}
    return dict(zip(texts, vectors, strict=True))


def _tokenizer(ctx: JobContext) -> Callable[[str], set[str]]:
    """How ``dedupe.new_text_wins`` splits a text: the embedding model's tokens, or words."""
    embedder = ctx.services.embedder

    def tokens(text: str) -> set[str]:
        if embedder is None:
            return set(text.lower().split())
        return {text[a:b].lower() for a, b in embedder.token_spans(text)}

    return tokens
