"""Scheduling a dream on request (BEHAVIOUR §19.3)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.repositories.dreams import DreamRepository
from ..dreams.payload import DreamPayload
from ..dreams.queueing import enqueue_dream
from ..errors import BadRequest, Invalid, NotFound
from ..schemas.dreams import ScheduleDreamRequest
from ..schemas.scopes import SCOPE_PREFIX
from ..settings import Settings


async def schedule_dream(
    db: AsyncSession, settings: Settings, workspace: str, body: ScheduleDreamRequest
) -> None:
    """Queue the dream now, bypassing threshold, cooldown and idle wait; a no-op while the
    same dream (type, observer, observed) is waiting or running.

    Unlike upstream, the workspace, both peers (the observer may be a scope, ``scope.<id>``)
    and the session, when given, must exist: 404 here instead of a dream failing unseen."""
    if not settings.dream_enabled:
        raise BadRequest("Dreams are not enabled in the system configuration")
    observed = body.observed or body.observer
    if observed.startswith(SCOPE_PREFIX):
        raise Invalid(f"Observed peer {observed[:80]!r} is a scope; dreams observe peers only")
    found, peers, session_ok = await DreamRepository(db).existing(
        workspace, [body.observer, observed], body.session_id
    )
    if not found:
        raise NotFound(f"Workspace {workspace} not found")
    for peer in dict.fromkeys([body.observer, observed]):
        if peer not in peers:
            raise NotFound(f"Peer {peer} not found in workspace {workspace}")
    if body.session_id is not None and not session_ok:
        raise NotFound(f"Session {body.session_id} not found in workspace {workspace}")
    payload = DreamPayload(
        workspace=workspace,
        observer=body.observer,
        observed=observed,
        dream_type=body.dream_type.value,
        session=body.session_id,
        rebuild=body.rebuild,
    )
    await enqueue_dream(db, payload)
