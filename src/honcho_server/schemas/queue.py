"""Queue status: how much background derivation work a workspace has, by state."""

from __future__ import annotations

from pydantic import BaseModel, Field

_TOTAL = "Total work units"
_IN_PROGRESS = "Work units currently being processed"
_PENDING = "Work units waiting to be processed"


class SessionQueueStatus(BaseModel):
    """Status for a specific session within the processing queue."""

    session_id: str | None = Field(default=None, description="Session ID if filtered by session")
    total_work_units: int = Field(description=_TOTAL)
    completed_work_units: int = Field(description="Completed work units")
    in_progress_work_units: int = Field(description=_IN_PROGRESS)
    pending_work_units: int = Field(description=_PENDING)


class QueueStatus(BaseModel):
    """Aggregated processing queue status.

    Tracks user-facing work only: representation, summary and dream jobs. Completed counts
    cover finished jobs still kept in the queue table, not lifetime totals.
    """

    total_work_units: int = Field(description=_TOTAL)
    completed_work_units: int = Field(
        description="Completed work units (since last periodic cleanup)"
    )
    in_progress_work_units: int = Field(description=_IN_PROGRESS)
    pending_work_units: int = Field(description=_PENDING)
    sessions: dict[str, SessionQueueStatus] | None = Field(
        default=None, description="Per-session status when not filtered by session"
    )
