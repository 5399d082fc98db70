"""Assemble ``GET …/sessions/{s}/context``: summary + newest messages within the budget."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic_core import to_json
from sqlalchemy.ext.asyncio import AsyncSession

from ...db.repositories.context import ContextRepository
from ...db.repositories.summaries import SummaryRepository
from .. import views
from ..messages import message_wire
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
    """The ``SessionContext`` response body, as pydantic would render the model, built from
    the rows without a model per message (a whole-session context has thousands)."""
    limit = MAX_CONTEXT_TOKENS if req.tokens is None else req.tokens
    if peer_view is not None:
        limit -= peer_view.tokens
    chosen = None
    if req.summary and limit > 0:
        stored = await SummaryRepository(db).for_session(workspace, session)
        short, long = stored.get("short"), stored.get("long")
        kind = choose_summary(
            limit,
            short.token_count if short is not None else None,
            long.token_count if long is not None else None,
        )
        chosen = stored[kind] if kind is not None else None
    budget = limit - (chosen.token_count if chosen is not None else 0)
    after = chosen.message_id if chosen is not None else 0
    rows = await ContextRepository(db).newest_messages(
        workspace, session, after_id=after, budget=budget
    )
    body = {  # SessionContext's fields, in its order
        "id": session,
        "messages": [message_wire(m) for m in rows],
        "summary": views.summary(chosen).model_dump() if chosen is not None else None,
        "peer_representation": peer_view.representation if peer_view else None,
        "peer_card": peer_view.card if peer_view else None,
    }
    return to_json(body)
