from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field

from .common import Configuration, Filters, Metadata, Name


class PeerCreate(BaseModel):
    id: Name = Field(validation_alias=AliasChoices("id", "name"))
    metadata: Metadata | None = None
    configuration: Configuration | None = None


class PeerUpdate(BaseModel):
    metadata: Metadata | None = None
    configuration: Configuration | None = None


class PeerGet(BaseModel):
    filters: Filters | None = None
    kind: Literal["scope", "all"] | None = Field(
        default=None,
        description=(
            "Which kinds of peers to list. Omitted (default): regular peers only "
            "(scope peers are excluded). 'scope': scope peers only. 'all': every peer."
        ),
    )


class Peer(BaseModel):
    id: str
    uid: str = Field(
        description="Immutable server-assigned identifier (unlike `id`, the client-chosen name): "
        "a re-created resource with the same name gets a new one."
    )
    workspace_id: str
    created_at: datetime
    metadata: dict[str, Any] = Field(default_factory=dict)
    configuration: dict[str, Any] = Field(default_factory=dict)
