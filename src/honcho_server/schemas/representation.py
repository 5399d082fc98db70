"""Representation and peer-context wire models."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

ScopeList = Annotated[list[str], Field(min_length=1, max_length=100)]


class PeerRepresentationGet(BaseModel):
    session_id: str | None = None
    filters: dict[str, Any] | None = None
    target: str | None = None
    search_query: str | None = None
    search_top_k: Annotated[int, Field(ge=1, le=100)] | None = None
    search_max_distance: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    include_most_frequent: bool | None = None
    max_conclusions: Annotated[int, Field(ge=1, le=100)] | None = 25
    # Source-only (§24.2): one scope name reads the scope's own view; a list of 1-100 names
    # confines recall to the scopes' member sessions. Absent from the v3 OpenAPI.
    scope: SkipJsonSchema[
        str | Annotated[list[str], Field(min_length=1, max_length=100)] | None
    ] = None


class RepresentationResponse(BaseModel):
    representation: str


class PeerContext(BaseModel):
    peer_id: str
    target_id: str
    representation: str | None = None
    peer_card: list[str] | None = None
