"""The v2 wire shapes that differ from v3 (Honcho API 2.5.1). Bodies and answers that are the
same in both versions use the v3 models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field

from ...schemas.messages import Message
from ...schemas.summaries import Summary

Limited = Annotated[int, Field(ge=1, le=100)]
Distance = Annotated[float, Field(ge=0.0, le=1.0)]


class ObservationCreate(BaseModel):
    content: Annotated[str, Field(min_length=1, max_length=65535)]
    observer_id: str = Field(description="The peer making the observation")
    observed_id: str = Field(description="The peer being observed")
    session_id: str = Field(description="The session this observation relates to")


class ObservationBatchCreate(BaseModel):
    observations: Annotated[list[ObservationCreate], Field(min_length=1, max_length=100)]


class ObservationGet(BaseModel):
    filters: dict[str, Any] | None = None


class ObservationQuery(BaseModel):
    query: str = Field(description="Semantic search query")
    top_k: Limited = Field(default=10, description="Number of results to return")
    distance: Distance | None = Field(
        default=None, description="Maximum cosine distance threshold for results"
    )
    filters: dict[str, Any] | None = Field(default=None, description="Additional filters")


class Observation(BaseModel):
    """A conclusion, as v2 called it."""

    id: str
    content: str
    observer_id: str = Field(description="The peer who made the observation")
    observed_id: str = Field(description="The peer being observed")
    session_id: str
    created_at: datetime


class SessionDeriverStatus(BaseModel):
    session_id: str | None = None
    total_work_units: int
    completed_work_units: int
    in_progress_work_units: int
    pending_work_units: int


class DeriverStatus(BaseModel):
    """v3's queue status under its v2 name."""

    total_work_units: int
    completed_work_units: int
    in_progress_work_units: int
    pending_work_units: int
    sessions: dict[str, SessionDeriverStatus] | None = None


class DreamType(StrEnum):
    """v2's dream types; both run v3's one kind of consolidating dream (``omni``)."""

    CONSOLIDATE = "consolidate"
    AGENT = "agent"


class TriggerDreamRequest(BaseModel):
    observer: str = Field(description="Observer peer name")
    observed: str | None = Field(default=None, description="Observed peer (default: observer)")
    dream_type: DreamType = Field(description="Type of dream to trigger")


class ExplicitObservation(BaseModel):
    created_at: datetime
    message_ids: list[int] = Field(default_factory=list)
    session_name: str
    content: str = Field(description="The explicit observation")


class DeductiveObservation(BaseModel):
    created_at: datetime
    message_ids: list[int] = Field(default_factory=list)
    session_name: str
    premises: list[str] = Field(default_factory=list)
    conclusion: str = Field(description="The deductive conclusion")


class Representation(BaseModel):
    """v2's structured representation: explicit facts and deductions, oldest first."""

    explicit: list[ExplicitObservation] = Field(default_factory=list)
    deductive: list[DeductiveObservation] = Field(default_factory=list)


class PeerRepresentationGet(BaseModel):
    session_id: str | None = None
    target: str | None = None
    search_query: str | None = None
    search_top_k: Limited | None = None
    search_max_distance: Distance | None = None
    include_most_derived: bool | None = None
    max_observations: Limited | None = 25


class PeerContext(BaseModel):
    peer_id: str
    target_id: str
    representation: Representation | None = None
    peer_card: list[str] | None = None


class SessionContext(BaseModel):
    id: str
    messages: list[Message]
    summary: Summary | None = None
    peer_representation: Representation | None = None
    peer_card: list[str] | None = None


class DialecticOptions(BaseModel):
    session_id: str | None = None
    target: str | None = None
    query: Annotated[str, Field(min_length=1, max_length=10000)]
    stream: bool = False


class DialecticResponse(BaseModel):
    content: str
