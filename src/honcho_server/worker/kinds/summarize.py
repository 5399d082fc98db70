"""The ``summarize`` job: refresh a session's short and long summaries (BEHAVIOUR §13).

For each kind whose threshold has been reached since its stored summary (short every
``messages_per_short_summary`` messages, long every ``messages_per_long_summary``), the model
gets the previous summary of that kind and the messages since (at most one interval's worth)
and writes the summary of the whole conversation so far, which replaces the stored one.
Blank output keeps the old summary and fails the job loudly; LLM errors are retried by the
runner. No LLM configured: the job waits (see :mod:`.derive`).
"""

from __future__ import annotations

import math
from typing import Literal

from ...db.repositories.derivation import DerivationRepository, PendingMessage
from ...db.repositories.summaries import SummaryRepository
from ...deriver.config import defaults_from
from ...deriver.pipeline import SummarizePayload, lines, session_config, to_llm
from ...deriver.prompts import summary_prompt
from ...llm import LLMOutputInvalid
from ..context import JobContext
from .llm_wait import client_or_wait
from .webhooks import enqueue_queue_empty

Kind = Literal["short", "long"]
MAX_TOKENS: dict[Kind, int] = {"short": 1_000, "long": 4_000}


def word_limit(kind: Kind, input_tokens: int) -> int:
    if kind == "long":
        return math.floor(0.75 * MAX_TOKENS["long"])
    return max(50, math.floor(0.75 * min(input_tokens, MAX_TOKENS["short"])))


async def summarize(ctx: JobContext, job: SummarizePayload) -> None:
    client = await client_or_wait(ctx, "summary")
    if client is None:
        return

    async with ctx.transaction() as db:
        repo = DerivationRepository(db)
        state = await repo.session_state(job.workspace, job.session)
        if state is None or not state.active:
            return
        cfg = session_config(state, defaults_from(ctx.services.settings))
        stored = await repo.summaries(job.workspace, job.session)
        work: list[tuple[Kind, str | None, list[PendingMessage]]] = []
        intervals: list[tuple[Kind, int]] = [
            ("short", cfg.messages_per_short_summary),
            ("long", cfg.messages_per_long_summary),
        ]
        for kind, every in intervals:
            target = (state.last_seq // every) * every
            previous = stored.get(kind)
            covered = int(previous.covered_seq) if previous is not None else 0
            if target == 0 or covered >= target:
                continue
            rows = await repo.messages_by_seq(
                job.workspace, job.session, max(covered, target - every) + 1, target
            )
            if rows:
                work.append((kind, previous.content if previous else None, rows))

    for kind, before, rows in work:
        tokens = sum(int(r.token_count) for r in rows)
        prompt = summary_prompt(kind, before, lines(rows), word_limit(kind, tokens))
        answer = await client.complete(to_llm(prompt), max_tokens=MAX_TOKENS[kind])
        ctx.record_usage(answer.usage)
        if not answer.text.strip():
            raise LLMOutputInvalid(
                f"the {kind} summary came back blank; the previous one is kept",
                raw=answer.raw,
                attempts=1,
            )  # its usage is already on ctx (recorded above), not counted twice
        async with ctx.transaction() as db:
            await SummaryRepository(db).save(
                job.workspace,
                job.session,
                kind,
                content=answer.text.strip(),
                message_id=int(rows[-1].id),
                message_public_id=rows[-1].public_id,
                token_count=answer.usage.completion_tokens,
            )
    async with ctx.completing() as db:
        if work:
            await enqueue_queue_empty(db, job.workspace, "summary", job.session, None, None)
