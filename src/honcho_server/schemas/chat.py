"""Dialectic chat wire models: peer chat and workspace chat bodies, answers, evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

ReasoningLevel = Literal["minimal", "low", "medium", "high", "max"]
MAX_QUERY_CHARS = 10_000


class WorkspaceChatOptions(BaseModel):
    """``POST /v3/workspaces/{w}/chat``: a question about the whole workspace."""

    session_id: str | None = Field(
        default=None, description="ID of the session to scope the representation to"
    )
    filters: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Optional filters to scope recall. This endpoint supports only the 'session_id' "
            'key: a session id, a list of session ids, or {"in": [...]}.'
        ),
    )
    query: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS)] = Field(
        description="Dialectic API Prompt"
    )
    stream: bool = False
    reasoning_level: ReasoningLevel = Field(
        default="low",
        description="Level of reasoning to apply: minimal, low, medium, high, or max",
    )
    response_format: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Optional JSON Schema (root type 'object') the response must conform to. When "
            "provided, `content` is a JSON string matching this schema."
        ),
    )
    # Source-only (§24.2 and newer SDKs): absent from the v3 OpenAPI.
    include_evidence: SkipJsonSchema[bool] = False
    scope: SkipJsonSchema[
        str | Annotated[list[str], Field(min_length=1, max_length=100)] | None
    ] = None

    @field_validator("query", mode="before")
    @classmethod
    def _strip_nul(cls, value: object) -> object:
        return value.replace("\x00", "") if isinstance(value, str) else value


class DialecticOptions(WorkspaceChatOptions):
    """``POST /v3/workspaces/{w}/peers/{p}/chat``."""

    target: str | None = Field(
        default=None,
        description="Optional peer to get the representation for, from the perspective of "
        "this peer",
    )


class EvidenceObservation(BaseModel):
    """A conclusion the agent read while answering."""

    id: str
    level: str
    content: str
    created_at: datetime
    session_id: str | None = None
    observer_id: str | None = None
    observed_id: str | None = None
    source_ids: list[str] = Field(default_factory=list)


class EvidenceMessageRef(BaseModel):
    """A message the agent read (identity only, no content)."""

    id: str
    session_id: str
    peer_id: str
    created_at: datetime


class EvidenceToolCall(BaseModel):
    tool_name: str
    tool_input: dict[str, Any] = Field(default_factory=dict)


class Evidence(BaseModel):
    """What the agent read and did, collated from its reads (not reported by the model)."""

    conclusions: list[EvidenceObservation] = Field(default_factory=list)
    messages: list[EvidenceMessageRef] = Field(default_factory=list)
    tool_calls: list[EvidenceToolCall] = Field(default_factory=list)
    reasoning_trace_id: str | None = None


class DialecticResponse(BaseModel):
    content: str | None
    evidence: SkipJsonSchema[Evidence | None] = None
