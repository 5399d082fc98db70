from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, Field

from .common import Filters, Metadata, Name
from .configuration import WorkspaceConfiguration


class WorkspaceCreate(BaseModel):
    id: Name = Field(validation_alias=AliasChoices("id", "name"))
    metadata: Metadata = Field(default_factory=dict)
    configuration: WorkspaceConfiguration = Field(default_factory=WorkspaceConfiguration)


class WorkspaceUpdate(BaseModel):
    metadata: Metadata | None = None
    configuration: WorkspaceConfiguration | None = None


class WorkspaceGet(BaseModel):
    filters: Filters | None = None


class Workspace(BaseModel):
    id: str
    uid: str = Field(
        description="Immutable server-assigned identifier (unlike `id`, the client-chosen name): "
        "a re-created resource with the same name gets a new one."
    )
    metadata: dict[str, Any] = Field(default_factory=dict)
    configuration: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
