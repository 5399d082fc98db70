"""The ``derive`` job: conclusions about one sender from its new messages in one session.

Three steps, never holding a transaction across the LLM call: read (observers now, the
sender's messages after its watermark — at most ``MAX_NEW_TOKENS`` of them — some earlier
conversation for context, and what is already known); ask the model; write the conclusions
into every observer's collection (exact duplicates reinforce the stored row instead), move
the watermark, queue their embedding, and — when the unit is drained — a ``queue.empty``
event. A run that left messages behind queues the next run.

No LLM configured: the job goes back to the queue for later without spending an attempt.
An unavailable LLM, a rejected request or an invalid answer raise: the runner retries with
backoff and finally keeps the job as failed, with its error.
"""

from __future__ import annotations

import logging

from ...db.repositories.derivation import DerivationRepository
from ...deriver import dedupe
from ...deriver.config import defaults_from
from ...deriver.pipeline import (
    CONTEXT_MESSAGES,
    KNOWN_CONCLUSIONS,
    MAX_NEW_MESSAGES,
    DerivePayload,
    enqueue_derive,
    lines,
    observers,
    session_config,
    take_by_tokens,
    to_llm,
)
from ...deriver.prompts import Extraction, extraction_prompt
from ...ids import new_id
from ...llm import LLMNotConfigured
from ..context import JobContext
from .embedding import enqueue_embed_conclusions
from .webhooks import enqueue_queue_empty

log = logging.getLogger(__name__)

NOT_CONFIGURED_RETRY_SECONDS = 60.0


async def postpone_without_llm(ctx: JobContext, error: LLMNotConfigured) -> None:
    """Back to the queue for later, attempt not spent; the job record says why."""
    async with ctx.transaction() as db:
        waiting = await DerivationRepository(db).postpone(
            ctx.job_id, NOT_CONFIGURED_RETRY_SECONDS, f"waiting: {error.message}"
        )
    log.info("job %d waits for an LLM: %s", ctx.job_id, error.message)
    # Postponed: the runner must not mark it done. Not postponed: a twin job of the same
    # unit is already waiting and will do the work; this one succeeds empty-handed.
    ctx.completed = waiting


async def derive(ctx: JobContext, job: DerivePayload) -> None:
    llm = ctx.services.llm
    try:
        if llm is None:
            raise LLMNotConfigured("this worker has no LLM registry")
        client = llm.client("deriver")
    except LLMNotConfigured as exc:
        await postpone_without_llm(ctx, exc)
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
        instructions = session_config(
            state, defaults_from(ctx.services.settings)
        ).custom_instructions

    extraction = Extraction()
    if new and watchers:
        prompt = extraction_prompt(job.observed, lines(new), lines(earlier), known, instructions)
        result = await client.structured(to_llm(prompt), Extraction)
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
    async with ctx.completing() as db:
        repo = DerivationRepository(db)
        created: list[str] = []
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
            await repo.reinforce(plan.reinforce)
            rows = [
                {
                    "id": new_id(),
                    "workspace_name": job.workspace,
                    "observer": observer,
                    "observed": job.observed,
                    "session_name": c.session,
                    "level": c.level,
                    "content": c.content.strip(),
                    "premises": list(c.premises),
                    "source_message_ids": list(c.source_message_ids),
                    "internal_metadata": {"derived_by_job": ctx.job_id},
                }
                for c in plan.insert
            ]
            await repo.insert(rows)
            created += [str(r["id"]) for r in rows]
        await repo.set_watermark(job.workspace, job.session, job.observed, int(batch[-1].id))
        if created:
            await enqueue_embed_conclusions(db, job.workspace, created)
        if more:
            await enqueue_derive(db, job.model_copy(update={"observers": watchers}))
        else:
            await enqueue_queue_empty(
                db, job.workspace, "representation", job.session, None, job.observed
            )
