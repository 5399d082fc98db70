"""The ``dream`` job: consolidate one collection (workspace, observer, observed).

``omni``: read the collection's newest live conclusions (at most ``MAX_CONCLUSIONS`` and
``MAX_INPUT_TOKENS``) and the peer card; ask the model for the deduction stage, then the
induction stage (one structured call each — any OpenAI-compatible model, no tool calls);
check the answers (:mod:`...dreams.consolidate`); embed the new conclusions; then write
deletions, merges, new conclusions, the card and ``dream_state`` in one transaction that
also completes the job. New conclusions are stamped with the dream's session; exact
duplicates of live ones reinforce the stored row instead.

``card_refresh``: one call rebuilding the card from the collection (the current card is
withheld with ``rebuild``); conclusions and ``dream_state`` are not touched.

Both resolve the configuration of the workspace and the dream's session first:
``dream.enabled`` off skips the run, ``peer_card.create`` off keeps the card as it is (and
skips ``card_refresh``). An automatic dream whose observed peer wrote within the idle
timeout moves itself to the end of that quiet period instead of running. No LLM
configured: the job waits. An invalid answer or a failing LLM raise: retried, then failed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ...db.models import vector_literal
from ...db.repositories.conclusion_rows import NewConclusionRow, Recent
from ...db.repositories.conclusions import ConclusionRepository
from ...db.repositories.dreams import DreamRepository
from ...db.repositories.peer_cards import PeerCardRepository
from ...deriver.config import Resolved, defaults_from, resolve
from ...deriver.pipeline import to_llm
from ...dreams.consolidate import (
    DeductionPlan,
    Known,
    NewConclusion,
    after_deduction,
    plan_deduction,
    plan_induction,
)
from ...dreams.payload import DreamPayload
from ...dreams.prompts import DeductionAnswer, InductionAnswer, deduction_prompt, induction_prompt
from ...dreams.scheduling import quiet_at
from ...embeddings import EmbeddingError
from ...ids import new_id
from ...llm import LLMClient
from ...tokens import count_many
from ..context import JobContext
from .card import rewrite_card
from .embedding import enqueue_embed_conclusions
from .llm_wait import client_or_wait

log = logging.getLogger(__name__)

MAX_CONCLUSIONS = 200
MAX_INPUT_TOKENS = 8_000


async def dream(ctx: JobContext, job: DreamPayload) -> None:
    if job.automatic and await _postponed_while_active(ctx, job):
        return
    async with ctx.transaction() as db:
        repo = DreamRepository(db)
        session = job.session
        if job.automatic:
            session = await ConclusionRepository(db).latest_explicit_session(
                job.workspace, job.observer, job.observed
            )
        configs = await repo.configurations(job.workspace, session)
        if configs is None:
            return  # the workspace is gone
        workspace_config, session_config = configs
        if session_config is None:
            session = None  # deleted since: nothing is stamped with it
        cfg = resolve(defaults_from(ctx.services.settings), workspace_config, session_config, None)
        if not cfg.dream_enabled or (job.dream_type == "card_refresh" and not cfg.peer_card_create):
            log.info("job %d: dream skipped by configuration", ctx.job_id)
            return
        rows = await ConclusionRepository(db).newest(
            job.workspace, job.observer, job.observed, MAX_CONCLUSIONS
        )
        card = await PeerCardRepository(db).current(job.workspace, job.observer, job.observed)
    client = await client_or_wait(ctx, "dream")
    if client is None:
        return
    known = _known(rows)
    current_card = card[0] if card else []
    if job.dream_type == "card_refresh":
        await _refresh_card(ctx, client, job, known, [] if job.rebuild else current_card)
    else:
        await _omni(ctx, client, job, session, cfg, known, current_card)


async def _postponed_while_active(ctx: JobContext, job: DreamPayload) -> bool:
    """Move the job to the end of the observed peer's quiet period if it wrote recently."""
    idle = timedelta(minutes=ctx.services.settings.dream_idle_timeout_minutes)
    now = datetime.now(UTC)
    async with ctx.transaction() as db:
        last = await DreamRepository(db).last_message_at(job.workspace, job.observed)
        due = quiet_at(last, now, idle)
        if due is None:
            return False
    await ctx.wait(
        f"waiting: {job.observed} is active; dreaming once quiet until {due.isoformat()}",
        retry_at=due,
    )
    return True


def _known(rows: Sequence[Recent]) -> list[Known]:
    """The newest rows within the token budget, oldest first, as ``c1``, ``c2``, …"""
    picked: list[Recent] = []
    total = 0
    for row, tokens in zip(rows, count_many([r.content for r in rows]), strict=True):
        if picked and total + tokens > MAX_INPUT_TOKENS:
            break
        total += tokens
        picked.append(row)
    picked.reverse()
    return [
        Known(
            ref=f"c{n}",
            id=r.id,
            level=r.level,
            content=r.content,
            at=r.created_at,
            times_derived=r.times_derived,
            source_message_ids=r.source_message_ids,
        )
        for n, r in enumerate(picked, 1)
    ]


async def _refresh_card(
    ctx: JobContext, client: LLMClient, job: DreamPayload, known: list[Known], card: list[str]
) -> None:
    if not known:
        return
    facts = [k.content for k in known]
    await rewrite_card(ctx, client, job.workspace, job.observer, job.observed, card, facts)


async def _omni(
    ctx: JobContext,
    client: LLMClient,
    job: DreamPayload,
    session: str | None,
    cfg: Resolved,
    known: list[Known],
    card: list[str],
) -> None:
    plan = DeductionPlan()
    new: list[NewConclusion] = []
    if known:
        card_shown = card if cfg.peer_card_create else None
        prompt = deduction_prompt(job.observer, job.observed, [k.item() for k in known], card_shown)
        answer = await client.structured(to_llm(prompt), DeductionAnswer)
        ctx.record_usage(answer.usage)
        plan = plan_deduction(known, answer.value, card_allowed=cfg.peer_card_create, new_id=new_id)
        new = list(plan.new)
        shown = after_deduction(plan, datetime.now(UTC))
        if len(shown) >= 2:
            prompt = induction_prompt(job.observer, job.observed, [k.item() for k in shown])
            induced = await client.structured(to_llm(prompt), InductionAnswer)
            ctx.record_usage(induced.usage)
            new += plan_induction(shown, induced.value, new_id=new_id)
    vectors = await _embed(ctx, [n.content for n in new])
    async with ctx.completing() as db:
        conclusions = ConclusionRepository(db)
        await conclusions.soft_delete_in(job.workspace, job.observer, job.observed, plan.deleted)
        await conclusions.supersede(job.workspace, job.observer, job.observed, plan.superseded)
        for m in plan.merges:
            merged = [{"id": i, "content": c} for i, c in m.merged_from]
            await conclusions.absorb(m.keep, m.times_derived, m.source_message_ids, merged)
            await conclusions.repoint_sources(job.workspace, m.drop, m.keep)
        unembedded = await _store(ctx, db, job, session, new, vectors)
        if unembedded:
            await enqueue_embed_conclusions(db, job.workspace, unembedded)
        if plan.card:
            await PeerCardRepository(db).put(job.workspace, job.observer, job.observed, plan.card)
        await DreamRepository(db).record_dream(job.workspace, job.observer, job.observed)
    log.info(
        "job %d: dream of %s/%s: %d new, %d superseded, %d removed, %d merged, card %s",
        ctx.job_id,
        job.observer,
        job.observed,
        len(new),
        len(plan.superseded),
        len(plan.deleted),
        len(plan.merges),
        "rewritten" if plan.card else "kept",
    )


def _metadata(ctx: JobContext, n: NewConclusion) -> dict[str, Any]:
    meta: dict[str, Any] = {"dreamed_by_job": ctx.job_id}
    if n.premise_ids:
        meta["premise_ids"] = list(n.premise_ids)
    if n.sources:
        meta["sources"] = list(n.sources)
        meta["source_ids"] = list(n.source_ids)
    if n.pattern_type is not None:
        meta["pattern_type"] = n.pattern_type
    if n.confidence is not None:
        meta["confidence"] = n.confidence
    return meta


async def _store(
    ctx: JobContext,
    db: AsyncSession,
    job: DreamPayload,
    session: str | None,
    new: list[NewConclusion],
    vectors: dict[str, list[float]],
) -> list[str]:
    """Insert the new conclusions; one equal to a live one of the same level (trimmed,
    lower-cased) reinforces it instead. Returns the ids inserted without an embedding."""
    if not new:
        return []
    conclusions = ConclusionRepository(db)
    stored = await conclusions.with_contents(
        job.workspace, job.observer, job.observed, sorted({n.content.lower() for n in new})
    )
    existing = {(s.content.strip().lower(), s.level): s.id for s in stored}
    rows: list[NewConclusionRow] = []
    reinforce: list[str] = []
    unembedded: list[str] = []
    for n in new:
        same = existing.get((n.content.lower(), n.level))
        if same is not None:
            reinforce.append(same)
            continue
        vector = vectors.get(n.content)
        if vector is None:
            unembedded.append(n.id)
        rows.append(
            NewConclusionRow(
                id=n.id,
                observer=job.observer,
                observed=job.observed,
                session_name=session,
                level=n.level,
                content=n.content,
                premises=n.premises,
                source_ids=n.premise_ids or n.source_ids,
                internal_metadata=_metadata(ctx, n),
                embedding=vector_literal(vector) if vector is not None else None,
            )
        )
    await conclusions.reinforce(reinforce)
    await conclusions.insert(job.workspace, rows)
    return unembedded


async def _embed(ctx: JobContext, texts: list[str]) -> dict[str, list[float]]:
    """Embeddings of ``texts`` (no transaction open); empty without an embedder or when
    embedding fails (the rows then get an embedding job)."""
    embedder = ctx.services.embedder
    texts = list(dict.fromkeys(texts))
    if embedder is None or not texts:
        return {}
    try:
        vectors = await embedder.embed(texts, background=True)
    except EmbeddingError as exc:
        log.warning("job %d: embedding dream conclusions failed: %s", ctx.job_id, exc)
        return {}
    return dict(zip(texts, vectors, strict=True))
