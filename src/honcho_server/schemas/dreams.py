"""``POST /v3/workspaces/{workspace_id}/schedule_dream``: its body (``ScheduleDreamRequest``)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class DreamType(StrEnum):
    """Types of dreams that can be triggered."""

    OMNI = "omni"
    CARD_REFRESH = "card_refresh"


class ScheduleDreamRequest(BaseModel):
    observer: str = Field(description="Observer peer name")
    observed: str | None = Field(
        default=None, description="Observed peer name (defaults to observer if not specified)"
    )
    dream_type: DreamType = Field(description="Type of dream to schedule")
    session_id: str | None = Field(
        default=None, description="Session ID to scope the dream to if specified"
    )
    rebuild: bool = Field(
        default=False,
        description=(
            "card_refresh dreams only: rebuild the peer card solely from observations currently "
            "in the collection, without injecting the existing card (use after removals)"
        ),
    )
