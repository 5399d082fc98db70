"""Representation endpoints and the peer part of session context."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ...db.repositories.peers import PeerRepository
from ...db.repositories.representation import RepresentationRepository
from ...errors import NotFound
from ...schemas.representation import PeerContext, PeerRepresentationGet
from ...tokens import count_tokens
from ..context.service import PeerView
from .allowlist import parse_session_allowlist
from .render import render
from .working import RepresentationQuery, working_representation


async def _require_peer(db: AsyncSession, workspace: str, peer: str) -> None:
    if await PeerRepository(db).get(workspace, peer) is None:
        raise NotFound(f"Peer {peer} not found")


async def representation(
    db: AsyncSession, workspace: str, peer: str, body: PeerRepresentationGet
) -> str:
    """Markdown of what ``peer`` knows about ``body.target`` (itself if absent); never creates."""
    q = RepresentationQuery(
        observer=peer,
        observed=body.target or peer,
        max_conclusions=body.max_conclusions or 25,
        include_most_frequent=bool(body.include_most_frequent),
        sessions=parse_session_allowlist(body.filters, body.session_id),
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
) -> PeerContext:
    await _require_peer(db, workspace, peer)
    observed = target or peer
    q = RepresentationQuery(
        observer=peer,
        observed=observed,
        max_conclusions=max_conclusions or 100,
        include_most_frequent=include_most_frequent,
    )
    text = render(await working_representation(db, workspace, q))
    card = await RepresentationRepository(db).card(workspace, peer, observed)
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
) -> PeerView:
    """The representation and card a session context includes for ``target``."""
    observer = perspective or target
    await _require_peer(db, workspace, observer)
    q = RepresentationQuery(
        observer=observer,
        observed=target,
        max_conclusions=max_conclusions or 100,
        include_most_frequent=include_most_frequent,
        sessions=[session] if limit_to_session else None,
    )
    text = render(await working_representation(db, workspace, q))
    card = (
        None
        if limit_to_session
        else await RepresentationRepository(db).card(workspace, observer, target)
    )
    tokens = count_tokens(text) + (count_tokens("\n".join(card)) if card else 0)
    return PeerView(representation=text, card=card, tokens=tokens)
