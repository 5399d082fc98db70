"""``GET /deriver/metrics``: the deriver's outstanding work, as upstream Honcho (3.1.2+)
reports it, and the same for one workspace."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DeriverMetrics(BaseModel):
    """Seconds of outstanding deriver work, plus the raw counts behind it."""

    outstanding_work_seconds: float = Field(
        description=(
            "A scaling signal: 1800 while work is ready or running (eligible or claimed work "
            "units, embeddings or dreams due), else the age of the oldest waiting item, else 0"
        )
    )
    eligible_work_units: int = Field(
        description="Work units a worker could claim now (due, none of their jobs running)"
    )
    claimed_work_units: int = Field(description="Work units being processed by a live worker")
    pending_items: int = Field(description="Queued items waiting to be processed")
    oldest_pending_age_seconds: float = Field(
        description="Age of the oldest waiting item in seconds (0 when none waits)"
    )
    embeddings_pending: int = Field(description="Texts waiting to be embedded")
    embeddings_pending_due: int = Field(description="Texts that can be embedded now")
    dreams_due: int = Field(description="Dreams due to run now")
    measured_at: float = Field(description="When this was measured (seconds since the epoch)")
    measurement_age_seconds: float = Field(
        description="Age of the measurement in seconds (0: measured for this request)"
    )
