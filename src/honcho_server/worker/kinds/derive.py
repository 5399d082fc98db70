"""The ``derive`` job: conclusions about one sender from its new messages in one session.

Three steps, never holding a transaction across the LLM call: read (observers now, the
sender's messages after its watermark — at most ``MAX_NEW_TOKENS`` of them — some earlier
conversation for context, and what is already known); ask the model; write the conclusions
into every observer's collection (exact duplicates reinforce the stored row instead), move
the watermark, queue their embedding, and — when the unit is drained — a ``queue.empty``
event. A run that left messages behind queues the next run.

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
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ...db.models import vector_literal
from ...db.repositories.conclusions import ConclusionRepository
from ...db.repositories.derivation import DerivationRepository
from ...db.repositories.vectors import C, VectorRepository, collection
from ...deriver import dedupe
from ...deriver.config import defaults_from
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
from ..context import JobContext
from .embedding import enqueue_embed_conclusions
from .llm_wait import client_or_wait
from .webhooks import enqueue_queue_empty

log = logging.getLogger(__name__)


async def derive(ctx: JobContext, job: DerivePayload) -> None:
    client = await client_or_wait(ctx, "deriver")
    if client is None:
        return

    async with ctx.transaction() as db:
        repo = DerivationRepository(db)
        state = await repo.session_state(job.workspace, job.session)
        if state is None or not state.active:
            return  # the session is gone: nothing to learn
        watchers = observers(state, job.observed)
        pending = await repo.pending_messages(
            job.workspace,
            job.session,
            job.observed,
            state.watermark(job.observed),
            MAX_NEW_MESSAGES + 1,
        )
        if not pending:
            return
        batch = take_by_tokens(pending[:MAX_NEW_MESSAGES])
        more = len(pending) > len(batch)
        new = [r for r in batch if not r.skip_reasoning]
        earlier = []
        known: list[str] = []
        if new and watchers:
            earlier = await repo.context_before(
                job.workspace,
                job.session,
                int(new[-1].id),
                [int(r.id) for r in new],
                CONTEXT_MESSAGES,
            )
            known = await repo.known(job.workspace, job.observed, job.observed, KNOWN_CONCLUSIONS)
        cfg = session_config(state, defaults_from(ctx.services.settings))
        # the newest message's own instructions win over the session's (BEHAVIOUR §8.2)
        own = [r.custom_instructions for r in new if r.custom_instructions]
        instructions = own[-1] if own else cfg.custom_instructions

    extraction = Extraction()
    if new and watchers:
        prompt = extraction_prompt(job.observed, lines(new), lines(earlier), known, instructions)
        result = await client.structured(to_llm(prompt), Extraction)
        ctx.record_usage(result.usage)
        extraction = result.value

    sources = tuple(r.public_id for r in new)
    candidates = [
        dedupe.Candidate("explicit", fact, job.session, source_message_ids=sources)
        for fact in extraction.explicit
    ] + [
        dedupe.Candidate(
            "deductive",
            d.conclusion,
            job.session,
            premises=tuple(d.premises),
            source_message_ids=sources,
        )
        for d in extraction.deductive
    ]
    vectors = await _embed(ctx, candidates)
    async with ctx.completing() as db:
        repo = DerivationRepository(db)
        created: list[str] = []  # inserted without an embedding
        carded: list[str] = []  # observers with a new explicit conclusion
        for observer in watchers if candidates else []:
            stored = await repo.matching(
                job.workspace,
                observer,
                job.observed,
                sorted({dedupe.normalise(c.content) for c in candidates}),
            )
            plan = dedupe.plan(
                candidates,
                [dedupe.Stored(s.id, s.level, s.content, s.session_name) for s in stored],
            )
            # premise key of a text -> the id a deduction citing it gets (explicit first)
            cited: dict[str, str] = {}
            premises = sorted({dedupe.premise_key(p) for c in candidates for p in c.premises})
            known_premises = await repo.by_premise_keys(
                job.workspace, observer, job.observed, [k for k in premises if k]
            )
            for p in sorted(known_premises, key=lambda p: p.level != "explicit"):
                cited.setdefault(p.key, p.id)
            await repo.reinforce(plan.reinforce)
            semantic = bool(vectors) and await repo.has_embedded(
                job.workspace, observer, job.observed
            )
            rows: list[dict[str, Any]] = []
            for c in plan.insert:
                content = c.content.strip()
                vector = vectors.get(content)
                row: dict[str, Any] = {
                    "id": new_id(),
                    "workspace_name": job.workspace,
                    "observer": observer,
                    "observed": job.observed,
                    "session_name": c.session,
                    "level": c.level,
                    "content": content,
                    "premises": list(c.premises),
                    "source_message_ids": list(c.source_message_ids),
                    "source_ids": _sources(c, cited),
                    "internal_metadata": {"derived_by_job": ctx.job_id},
                    "embedding": vector_literal(vector) if vector is not None else None,
                    "times_derived": 1,
                }
                if vector is None:
                    rows.append(row)  # embedded later by a job
                    created.append(str(row["id"]))
                else:
                    near = None
                    if semantic:
                        near = await _paraphrase_of(
                            db, job.workspace, observer, job.observed, c, vector
                        )
                    if near is not None:
                        if not _new_wins(ctx, content, near.content):
                            await repo.reinforce([near.id])
                            cited[dedupe.premise_key(content)] = near.id
                            continue
                        await repo.soft_delete(near.id)
                        await repo.repoint_sources(job.workspace, [near.id], str(row["id"]))
                        row["times_derived"] = int(near.times_derived) + 1
                    await repo.insert([row])  # visible to the next candidate's search
                    semantic = True  # the collection holds an embedded conclusion now
                cited[dedupe.premise_key(content)] = str(row["id"])
                if c.level == "explicit" and observer not in carded:
                    carded.append(observer)
            await repo.insert(rows)
            await _supersede(db, job, observer, extraction, cited)
        await repo.set_watermark(job.workspace, job.session, job.observed, int(batch[-1].id))
        if created:
            await enqueue_embed_conclusions(db, job.workspace, created)
        if cfg.peer_card_create:
            for observer in carded:
                await enqueue_card(
                    db,
                    CardPayload(workspace=job.workspace, observer=observer, observed=job.observed),
                )
        if cfg.dream_enabled and carded:
            await schedule_automatic_dreams(
                db, ctx.services.settings, job.workspace, carded, job.observed
            )
        if more:
            await enqueue_derive(db, job.model_copy(update={"observers": watchers}))
        else:
            await enqueue_queue_empty(
                db, job.workspace, "representation", job.session, None, job.observed
            )


async def _supersede(
    db: AsyncSession,
    job: DerivePayload,
    observer: str,
    extraction: Extraction,
    cited: dict[str, str],
) -> None:
    """Mark the known explicit conclusions the model says the new facts replace as superseded
    by the conclusion each new fact became (texts matched like premises). An update naming
    an unknown fact, or a current fact not stored in this batch, is ignored."""
    updates = [
        (dedupe.premise_key(u.outdated), dedupe.premise_key(u.current)) for u in extraction.updates
    ]
    updates = [(old, cur) for old, cur in updates if old and cur in cited]
    if not updates:
        return
    known = await DerivationRepository(db).by_premise_keys(
        job.workspace, observer, job.observed, sorted({old for old, _ in updates})
    )
    outdated = {k.key: k.id for k in known if k.level == "explicit"}
    pairs = [
        (outdated[old], cited[cur])
        for old, cur in updates
        if old in outdated and outdated[old] != cited[cur]
    ]
    await ConclusionRepository(db).supersede(job.workspace, observer, job.observed, pairs)


def _sources(c: dedupe.Candidate, cited: dict[str, str]) -> list[str]:
    """The ids of a deduction's premises: the collection's conclusions (stored, or written
    earlier in this batch) whose text is a premise; premises matching none are left out."""
    keys = (dedupe.premise_key(p) for p in c.premises)
    return list(dict.fromkeys(cited[k] for k in keys if k in cited))


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


async def _paraphrase_of(
    db: AsyncSession,
    workspace: str,
    observer: str,
    observed: str,
    c: dedupe.Candidate,
    vector: list[float],
) -> Any | None:
    """The nearest live conclusion of the same collection, level (and session, for explicit
    ones) within the semantic distance, or None."""
    where = [*collection(workspace, observer, observed), C.c.level == c.level]
    if c.level == "explicit":
        where.append(C.c.session_name == c.session)
    found = await VectorRepository(db).nearest_conclusions(
        vector,
        [C.c.id, C.c.content, C.c.times_derived],
        where,
        1,
        max_distance=dedupe.SEMANTIC_MAX_DISTANCE,
    )
    return found[0] if found else None


def _new_wins(ctx: JobContext, new: str, old: str) -> bool:
    embedder = ctx.services.embedder

    def tokens(text: str) -> set[str]:
        if embedder is None:
            return set(text.lower().split())
        return {text[a:b].lower() for a, b in embedder.token_spans(text)}

    return dedupe.new_text_wins(tokens(new), tokens(old))
