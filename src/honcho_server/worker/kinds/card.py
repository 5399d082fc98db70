"""The ``card`` job: refresh the peer card of (observer, observed) from its explicit conclusions.

Queued by a derive run that stored new explicit conclusions for the pair while the resolved
``peer_card.create`` is on. Three steps, no transaction across the LLM call: read the card
and the newest explicit conclusions; ask the model for the whole new card; normalise it
(labels, length, duplicates, count — :func:`normalise_card`) and store it.

A card written by hand (``PUT .../card``) stays authoritative until new evidence arrives: the
job does nothing unless some explicit conclusion was created after the card was last written.
Nothing extra is stored for this: it compares ``conclusions.created_at`` with the card's
``updated_at``. An answer that normalises to nothing leaves the old card in place.

No LLM configured: the job waits in the queue like ``derive`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...db.repositories.derivation import DerivationRepository
from ...db.repositories.peer_cards import PeerCardRepository
from ...deriver.pipeline import CardPayload as CardPayload
from ...deriver.pipeline import to_llm
from ...deriver.prompts import CardUpdate, card_prompt, normalise_card
from ...llm import LLMClient
from ..context import JobContext
from .llm_wait import client_or_wait

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
    normalise it and store it as the job completes. An answer that normalises to nothing
    keeps the old card. Shared with ``dream`` (``card_refresh``)."""
    prompt = card_prompt(observed, old, list(facts))
    result = await client.structured(to_llm(prompt), CardUpdate)
    ctx.record_usage(result.usage)
    entries = normalise_card(result.value.entries)
    if not entries:
        return  # keep the old card

    async with ctx.completing() as db:
        await PeerCardRepository(db).put(workspace, observer, observed, entries)
