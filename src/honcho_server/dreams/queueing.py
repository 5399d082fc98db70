"""Queueing dreams: on request (``schedule_dream``) and automatically after derive runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.repositories.dreams import DreamRepository
from ..queue import enqueue
from ..queue.reads import QueueReads
from ..settings import Settings
from .payload import DreamPayload, dream_key
from .scheduling import wants_dream


async def enqueue_dream(
    db: AsyncSession, payload: DreamPayload, delay_seconds: float = 0.0
) -> None:
    """Queue ``payload`` in the caller's transaction. A no-op while a dream of the same type
    and collection waits or runs — except that a manual request brings a waiting automatic
    dream forward to now."""
    await enqueue(db, payload, delay_seconds=delay_seconds)


async def schedule_automatic_dreams(
    db: AsyncSession,
    settings: Settings,
    workspace: str,
    observers: Sequence[str],
    observed: str,
) -> list[str]:
    """After a derive run stored new explicit conclusions about ``observed`` for
    ``observers`` (dreams enabled): queue an automatic ``omni`` dream, due after the idle
    timeout, for each collection that qualifies (:func:`.scheduling.wants_dream`). Returns
    the observers whose collection got one."""
    if not observers:
        return []
    keys = [dream_key("omni", workspace, o, observed) for o in observers]
    states = await DreamRepository(db).collection_states(workspace, observers, observed)
    busy = await QueueReads(db).busy_units(keys)
    states = [replace(state, pending=key in busy) for state, key in zip(states, keys, strict=True)]
    now = datetime.now(UTC)
    queued: list[str] = []
    for state in states:
        if wants_dream(
            state,
            now,
            threshold=settings.dream_document_threshold,
            min_hours=settings.dream_min_hours_between_dreams,
        ):
            payload = DreamPayload(
                workspace=workspace,
                observer=state.observer,
                observed=observed,
                dream_type="omni",
                automatic=True,
            )
            await enqueue_dream(db, payload, settings.dream_idle_timeout_minutes * 60.0)
            queued.append(state.observer)
    return queued
