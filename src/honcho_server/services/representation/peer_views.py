"""Representation endpoints and the peer part of session context.

Each entry point embeds its ``search_query`` (if any) before its first database statement,
so no connection is held while the model runs. A query that cannot be embedded (too long,
embedder failing) only drops the semantic share: the representation is still answered.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ...db.repositories.peer_cards import PeerCardRepository
from ...db.repositories.representation import RepresentationRepository
from ...embeddings import Embedder
from ...errors import Invalid, NotFound
from ...schemas.representation import PeerContext, PeerRepresentationGet
from ...tokens import count_tokens
from .. import semantic
from ..context.service import PeerView
from .allowlist import MAX_ALLOWLIST, parse_session_allowlist
from .render import render
from .working import RepresentationQuery, SemanticQuery, working_representation


@dataclass(frozen=True)
class Search:
    """The ``search_query`` / ``search_top_k`` / ``search_max_distance`` knobs."""

    query: str | None = None
    top_k: int | None = None
    max_distance: float | None = None

    async def embedded(self, embedder: Embedder | None) -> SemanticQuery | None:
        """The semantic share's query, or ``None`` (no query, or it could not be embedded)."""
        vector = await semantic.embed_optional(embedder, self.query, too_long="skip")
        return None if vector is None else SemanticQuery(vector, self.top_k, self.max_distance)


async def _card_of_existing_peer(
    db: AsyncSession, workspace: str, observer: str, observed: str
) -> list[str] | None:
    """``observer``'s card of ``observed``; 404 when ``observer`` does not exist (one query)."""
    exists, card = await PeerCardRepository(db).get(workspace, observer, observed)
    if not exists:
        raise NotFound(f"Peer {observer} not found")
    return card


SCOPE_PREFIX = "scope."


def scope_observer(scope: str) -> str:
    """The observer name a scope's conclusions are stored under."""
    return SCOPE_PREFIX + scope


async def _scope_allowlist(db: AsyncSession, workspace: str, scopes: list[str]) -> list[str]:
    sessions = await RepresentationRepository(db).scope_sessions(workspace, scopes)
    if len(sessions) > MAX_ALLOWLIST:
        raise Invalid(f"the scopes cover more than {MAX_ALLOWLIST} sessions")
    return sessions


async def require_scope(db: AsyncSession, workspace: str, scope: str) -> None:
    if not await RepresentationRepository(db).scope_exists(workspace, scope):
        raise NotFound(f"Scope {scope} not found")


async def representation(
    db: AsyncSession,
    workspace: str,
    peer: str,
    body: PeerRepresentationGet,
    embedder: Embedder | None = None,
) -> str:
    """Markdown of what ``peer`` knows about ``body.target`` (itself if absent); never creates."""
    observer, sessions = peer, parse_session_allowlist(body.filters, body.session_id)
    if body.scope is not None and (body.filters or body.session_id is not None):
        raise Invalid("scope cannot be combined with filters or session_id")
    search = Search(body.search_query, body.search_top_k, body.search_max_distance)
    nearest = await search.embedded(embedder)  # before the first statement
    if isinstance(body.scope, str):
        observer = scope_observer(body.scope)  # the scope's own view
    elif body.scope is not None:
        sessions = await _scope_allowlist(db, workspace, body.scope)
    q = RepresentationQuery(
        observer=observer,
        observed=body.target or peer,
        max_conclusions=body.max_conclusions or 25,
        include_most_frequent=bool(body.include_most_frequent),
        sessions=sessions,
        semantic=nearest,
    )
    return render(await working_representation(db, workspace, q))


async def peer_context(
    db: AsyncSession,
    workspace: str,
    peer: str,
    target: str | None,
    *,
    include_most_frequent: bool,
    max_conclusions: int | None,
    search: Search = Search(),
    embedder: Embedder | None = None,
) -> PeerContext:
    nearest = await search.embedded(embedder)  # before the first statement
    observed = target or peer
    card = await _card_of_existing_peer(db, workspace, peer, observed)
    q = RepresentationQuery(
        observer=peer,
        observed=observed,
        max_conclusions=max_conclusions or 100,
        include_most_frequent=include_most_frequent,
        semantic=nearest,
    )
    text = render(await working_representation(db, workspace, q))
    return PeerContext(peer_id=peer, target_id=observed, representation=text, peer_card=card)


async def context_peer_view(
    db: AsyncSession,
    workspace: str,
    session: str,
    *,
    target: str,
    perspective: str | None,
    limit_to_session: bool,
    include_most_frequent: bool,
    max_conclusions: int | None,
    scope: str | None = None,
    sessions: list[str] | None = None,
    search: Search = Search(),
    embedder: Embedder | None = None,
) -> PeerView:
    """The representation and card a session context includes for ``target``.

    The observer is ``perspective``, else the ``scope``'s peer, else ``target`` itself. An
    allowlist (``limit_to_session`` or ``sessions``) confines recall and omits the card.
    """
    nearest = await search.embedded(embedder)  # before the first statement
    allowlist = [session] if limit_to_session else sessions
    card: list[str] | None
    if scope is not None:
        await require_scope(db, workspace, scope)
        observer = scope_observer(scope)
        current = await PeerCardRepository(db).current(workspace, observer, target)
        card = current[0] if current is not None else None
    else:
        observer = perspective or target
        card = await _card_of_existing_peer(db, workspace, observer, target)
    if allowlist is not None:
        card = None  # an allowlisted view omits the card
    q = RepresentationQuery(
        observer=observer,
        observed=target,
        max_conclusions=max_conclusions or 100,
        include_most_frequent=include_most_frequent,
        sessions=allowlist,
        semantic=nearest,
    )
    text = render(await working_representation(db, workspace, q))
    tokens = count_tokens(text) + (count_tokens("\n".join(card)) if card else 0)
    return PeerView(representation=text, card=card, tokens=tokens)
