"""Assemble ``GET …/sessions/{s}/context``: summary + newest messages within the budget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json
from sqlalchemy.ext.asyncio import AsyncSession

from ...db.repositories.context import ContextRepository, StoredSummary
from ...db.repositories.message_json import join_rendered
from ...schemas.summaries import SUMMARY_TYPES
from .budget import MAX_CONTEXT_TOKENS, choose_summary


@dataclass(frozen=True)
class ContextRequest:
    tokens: int | None = None
    summary: bool = True


@dataclass(frozen=True)
class PeerView:
    """A representation and card to include; their tokens come out of the budget."""

    representation: str | None
    card: list[str] | None
    tokens: int


async def session_context(
    db: AsyncSession,
    workspace: str,
    session: str,
    req: ContextRequest,
    peer_view: PeerView | None = None,
) -> bytes:
    """The ``SessionContext`` response body, byte for byte as pydantic would render the
    model, around the messages Postgres rendered (a whole-session context has thousands:
    no Python object per message but its ``bytes``)."""
    limit = MAX_CONTEXT_TOKENS if req.tokens is None else req.tokens
    if peer_view is not None:
        limit -= peer_view.tokens
    # One statement reads the stored summaries and, when there are none, the newest messages
    # within the whole limit (a session without summaries needs no more); with summaries,
    # the messages are read once the choice is made: after the chosen summary, or all of
    # them within the limit when none fits.
    repo = ContextRepository(db)
    want = req.summary and limit > 0
    messages, stored = await repo.newest_rendered(
        workspace, session, after_id=0, budget=limit, summaries=want
    )
    chosen = _choose(limit, stored) if stored else None
    if chosen is not None or messages is None:
        after, budget = (chosen.message_id, limit - chosen.token_count) if chosen else (0, limit)
        messages, _ = await repo.newest_rendered(
            workspace, session, after_id=after, budget=budget, summaries=False
        )
    assert messages is not None  # read without summaries: always
    head = b'{"id":' + to_json(session) + b',"messages":['  # SessionContext's fields, in order
    tail = b"".join(
        (
            b'],"summary":',
            to_json(_summary(chosen) if chosen is not None else None),
            b',"peer_representation":',
            to_json(peer_view.representation if peer_view else None),
            b',"peer_card":',
            to_json(peer_view.card if peer_view else None),
            b"}",
        )
    )
    return join_rendered(head, messages, tail)


def _choose(limit: int, stored: list[StoredSummary]) -> StoredSummary | None:
    by_kind = {s.kind: s for s in stored}
    short, long = by_kind.get("short"), by_kind.get("long")
    kind = choose_summary(
        limit,
        short.token_count if short is not None else None,
        long.token_count if long is not None else None,
    )
    return by_kind[kind] if kind is not None else None


def _summary(s: StoredSummary) -> dict[str, Any]:
    """``Summary`` as its JSON renders (``views.summary``)."""
    return {
        "content": s.content,
        "message_id": s.message_public_id,
        "summary_type": SUMMARY_TYPES[s.kind],
        "created_at": s.created_at,
        "token_count": s.token_count,
    }
