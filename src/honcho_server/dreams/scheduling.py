"""When a dream starts by itself (BEHAVIOUR §19.2, without upstream's quirk 16). Pure.

After a derive run stores new explicit conclusions in a collection whose resolved
``dream.enabled`` is on, an automatic ``omni`` dream is queued when the collection holds at
least ``threshold`` more live explicit conclusions than at its last dream (all of them if it
never dreamed), its last dream is at least ``min_hours`` old, and no dream of it is waiting
or running. The job is due ``idle`` after that; when it comes up and the observed peer has
written since, it moves itself to ``idle`` after that peer's last message. State lives in the
database, so every process sees the same timers and any process's messages postpone them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..db.repositories.dreams import CollectionState


def wants_dream(state: CollectionState, now: datetime, *, threshold: int, min_hours: float) -> bool:
    if state.pending:
        return False
    if state.last_dream_at is not None and now - state.last_dream_at < timedelta(hours=min_hours):
        return False
    return state.live_explicit - state.last_dream_count >= threshold


def quiet_at(last_message_at: datetime | None, now: datetime, idle: timedelta) -> datetime | None:
    """When the observed peer will have been quiet for ``idle``; None when it already has.

    A message stamped in the future (clients may set ``created_at``) counts as sent now, so
    it cannot postpone a dream indefinitely."""
    if last_message_at is None:
        return None
    due = min(last_message_at, now) + idle
    return due if due > now else None
