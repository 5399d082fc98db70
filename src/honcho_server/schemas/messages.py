from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, field_validator

from .common import Filters, Metadata
from .configuration import MessageConfiguration

MAX_MESSAGE_CHARS = 25_000
MAX_BATCH = 100


def _strip_nul(value: str) -> str:
    return value.replace("\x00", "")


def _as_utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class MessageCreate(BaseModel):
    content: Annotated[str, Field(min_length=0, max_length=MAX_MESSAGE_CHARS)]
    peer_id: str
    metadata: Metadata | None = None
    configuration: MessageConfiguration | None = None
    created_at: Annotated[datetime | None, AfterValidator(_as_utc)] = None

    @field_validator("content")
    @classmethod
    def _clean(cls, value: str) -> str:
        return _strip_nul(value)


class MessageBatchCreate(BaseModel):
    messages: list[MessageCreate] = Field(min_length=1, max_length=MAX_BATCH)


class MessageUpdate(BaseModel):
    metadata: Metadata | None = None


class MessageGet(BaseModel):
    filters: Filters | None = None


class Message(BaseModel):
    id: str
    content: str
    peer_id: str
    session_id: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    workspace_id: str
    token_count: int
