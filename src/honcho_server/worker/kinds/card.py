"""The ``card`` job: refresh the peer card of (observer, observed) from its explicit conclusions.

Queued by a derive run that stored new explicit conclusions for the pair while the resolved
``peer_card.create`` is on. Three steps, no transaction across the LLM call: read the card
and the newest explicit conclusions; ask the model for the whole new card; read it
tolerantly (labels in any case and common variants, markdown and bullets, unlabelled
sentences; length, duplicates, count — :func:`read_card`) and store it.

A card written by hand (``PUT .../card``) stays authoritative until new evidence arrives: the
job does nothing unless some explicit conclusion was created after the card was last written.
Nothing extra is stored for this: it compares ``conclusions.created_at`` with the card's
``updated_at``.

When the answer leaves nothing to store, the old card stays, and whether that is a success
depends on what the model wrote:

- nothing: an empty list, blank lines, ``None``-like lines or headings only. The model found
  no stable fact to keep; the job succeeds (a card is never wiped by a model).
- entries of which not one is usable (placeholders such as ``IDENTITY: ...``, labels with no
  text, lone words, over-long lines): a failed attempt. :class:`LLMOutputInvalid` is raised
  with the reasons and the model's answer (``raw``), so the job is retried and, once its
  attempts are spent, fails with them on record.

Some entries kept and some rejected: the kept ones are stored, and one log line counts the
rejections.

No LLM configured: the job waits in the queue like ``derive`` does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ...db.repositories.derivation import DerivationRepository
from ...db.repositories.peer_cards import PeerCardRepository
from ...deriver.pipeline import CardPayload as CardPayload
from ...deriver.pipeline import to_llm
from ...deriver.prompts import CardUpdate, card_prompt, read_card
from ...llm import LLMClient, LLMOutputInvalid
from ..context import JobContext
from .llm_wait import client_or_wait

log = logging.getLogger(__name__)

CARD_FACTS = 40


async def refresh_card(ctx: JobContext, job: CardPayload) -> None:
    client = await client_or_wait(ctx, "deriver")
    if client is None:
        return

    async with ctx.transaction() as db:
        current = await PeerCardRepository(db).current(job.workspace, job.observer, job.observed)
        facts = await DerivationRepository(db).recent_explicit(
            job.workspace, job.observer, job.observed, CARD_FACTS
        )
    old = current[0] if current else []
    if not facts or (current is not None and facts[0].created_at <= current[1]):
        return  # nothing new since the card was written (by hand or by an earlier run)

    facts_oldest_first = [f.content for f in reversed(facts)]
    await rewrite_card(
        ctx, client, job.workspace, job.observer, job.observed, old, facts_oldest_first
    )


async def rewrite_card(
    ctx: JobContext,
    client: LLMClient,
    workspace: str,
    observer: str,
    observed: str,
    old: list[str],
    facts: Sequence[str],
) -> None:
    """Ask for the whole new card of (observer, observed) from ``old`` and ``facts``,
    read it and store it as the job completes. An answer that says nothing keeps the old
    card; one whose entries are all unusable raises :class:`LLMOutputInvalid` (see the module
    docstring). Shared with ``dream`` (``card_refresh``)."""
    prompt = card_prompt(observed, old, list(facts))
    result = await client.structured(to_llm(prompt), CardUpdate)
    reading = read_card(result.value.entries)
    if reading.unusable:
        # the usage travels on the error: the runner records it with the failure
        raise LLMOutputInvalid(
            f"card of {observed!r} as seen by {observer!r}: none of the "
            f"{len(reading.rejected)} lines the model wrote could be used: "
            f"{reading.why()}; the old card is kept",
            raw=result.raw or result.value.model_dump_json(),  # or as parsed, if not kept
            attempts=result.attempts,
            usage=result.usage,
        )
    ctx.record_usage(result.usage)
    if reading.rejected:
        log.info(
            "card of %r as seen by %r: kept %d entries, rejected %d: %s",
            observed,
            observer,
            len(reading.entries),
            len(reading.rejected),
            reading.why(example=False),  # no card text in the log
        )
    if not reading.entries:
        return  # the model found nothing to keep: the old card stays

    async with ctx.completing() as db:
        await PeerCardRepository(db).put(workspace, observer, observed, reading.entries)
