from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, Field

from .common import Filters, Metadata, Name
from .configuration import SessionConfiguration, SessionPeerConfig
from .scopes import ScopeName


class SessionCreate(BaseModel):
    id: Name = Field(validation_alias=AliasChoices("id", "name"))
    metadata: Metadata | None = None
    peers: dict[str, SessionPeerConfig] | None = Field(
        default=None, validation_alias=AliasChoices("peers", "peer_names")
    )
    configuration: SessionConfiguration | None = None
    scopes: list[ScopeName] | None = Field(default=None, max_length=100)


class SessionUpdate(BaseModel):
    metadata: Metadata | None = None
    configuration: SessionConfiguration | None = None


class SessionGet(BaseModel):
    filters: Filters | None = None


class Session(BaseModel):
    id: str
    uid: str = Field(
        description="Immutable server-assigned identifier (unlike `id`, the client-chosen name): "
        "a re-created resource with the same name gets a new one."
    )
    is_active: bool
    workspace_id: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    configuration: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
