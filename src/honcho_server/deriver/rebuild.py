"""Queueing a session's summary to be written again after messages left it (a deleted
message, an erased peer)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.repositories.derivation import DerivationRepository
from ..queue import enqueue
from ..queue.payloads import SummarizePayload
from .config import Defaults
from .pipeline import session_config


async def queue_summary_rebuild(
    db: AsyncSession, workspace: str, session: str, defaults: Defaults
) -> None:
    """Queue a summarize job for an active session whose summaries are on (a dropped
    summary is written again from the messages that are left)."""
    state = await DerivationRepository(db).session_state(workspace, session)
    if state is None or not state.active or not session_config(state, defaults).summary_enabled:
        return
    await enqueue(db, SummarizePayload(workspace=workspace, session=session, seq=state.last_seq))
