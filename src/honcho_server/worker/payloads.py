"""Typed job payloads, one model per job kind."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter


class DeleteSession(BaseModel):
    kind: Literal["delete_session"] = "delete_session"
    workspace: str
    session: str


class DeleteWorkspace(BaseModel):
    kind: Literal["delete_workspace"] = "delete_workspace"
    workspace: str


Payload = Annotated[DeleteSession | DeleteWorkspace, Field(discriminator="kind")]
PAYLOAD = TypeAdapter(Payload)
