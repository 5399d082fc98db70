"""Conclusions as the API shows them, and the manual-creation request."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, Field

from ..tokens import count_tokens
from .common import Filters

Level = Literal["explicit", "deductive", "inductive", "contradiction"]

MAX_CONTENT_CHARS = 65_535
MAX_CONTENT_TOKENS = 8_192  # what the embedder accepts (o200k_base)
MAX_BATCH = 100
MAX_TOP_K = 100


def _clean_content(value: str) -> str:
    """Strip NUL, then require non-empty content that fits the embedding window."""
    value = value.replace("\x00", "")
    if not value:
        raise ValueError("content must not be empty")
    # A token covers at least one UTF-8 byte, so short texts need no counting.
    if len(value.encode()) > MAX_CONTENT_TOKENS and count_tokens(value) > MAX_CONTENT_TOKENS:
        raise ValueError(f"content must be at most {MAX_CONTENT_TOKENS} tokens")
    return value


Content = Annotated[
    str,
    Field(min_length=1, max_length=MAX_CONTENT_CHARS),
    AfterValidator(_clean_content),
]


class ConclusionCreate(BaseModel):
    content: Content
    observer_id: str = Field(description="The peer making the conclusion")
    observed_id: str = Field(description="The peer the conclusion is about")
    session_id: str | None = Field(
        default=None, description="A session ID to store the conclusion in, if specified"
    )


class ConclusionBatchCreate(BaseModel):
    conclusions: list[ConclusionCreate] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        validation_alias=AliasChoices("conclusions", "observations"),
    )


class ConclusionGet(BaseModel):
    filters: Filters | None = None


class ConclusionQuery(BaseModel):
    """Semantic search of one (observer, observed) collection (``filters`` name the pair)."""

    query: Annotated[str, AfterValidator(lambda v: v.replace("\x00", ""))] = Field(
        description="Semantic search query"
    )
    top_k: int = Field(default=10, ge=1, le=MAX_TOP_K, description="Number of results to return")
    distance: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Maximum cosine distance threshold for results"
    )
    filters: Filters | None = Field(default=None, description="Additional filters to apply")


class Conclusion(BaseModel):
    id: str
    content: str
    observer_id: str = Field(description="The peer who made the conclusion")
    observed_id: str = Field(description="The peer the conclusion is about")
    session_id: str | None = None
    level: Level = Field(
        default="explicit",
        description=(
            "Reasoning level of the conclusion: 'explicit' (directly extracted from messages, "
            "or created through the API) or 'deductive'/'inductive'/'contradiction' (derived)."
        ),
    )
    source_ids: list[str] | None = Field(
        default=None,
        description=(
            "IDs of the conclusions this one was derived from: premises for 'deductive', "
            "supporting sources for 'inductive', conflicting conclusions for 'contradiction'. "
            "Empty for 'explicit' conclusions."
        ),
    )
    times_derived: int = Field(
        default=1, description="Number of times this conclusion has been independently derived."
    )
    created_at: datetime
