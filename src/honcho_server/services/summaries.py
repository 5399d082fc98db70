"""Session summaries as stored by the deriver (one slot per kind: short, long)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.repositories.summaries import SummaryRepository
from ..schemas.summaries import SessionSummaries
from . import views


async def for_session(db: AsyncSession, workspace: str, session: str) -> SessionSummaries:
    """Both slots; null when absent, and both null for an unknown or inactive session."""
    rows = await SummaryRepository(db).for_session(workspace, session)
    short, long = rows.get("short"), rows.get("long")
    return SessionSummaries(
        id=session,
        short_summary=views.summary(short) if short is not None else None,
        long_summary=views.summary(long) if long is not None else None,
    )
