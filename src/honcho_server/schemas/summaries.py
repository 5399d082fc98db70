"""Session summaries as the API shows them."""

from __future__ import annotations

from pydantic import BaseModel

from .messages import Message

SUMMARY_TYPES = {"short": "honcho_chat_summary_short", "long": "honcho_chat_summary_long"}


class Summary(BaseModel):
    content: str
    message_id: str  # public id of the last message the summary covers
    summary_type: str  # "honcho_chat_summary_short" | "honcho_chat_summary_long"
    created_at: str  # ISO-8601 UTC with "Z" (a string in the spec, not a date-time)
    token_count: int


class SessionSummaries(BaseModel):
    id: str
    short_summary: Summary | None = None
    long_summary: Summary | None = None


class SessionContext(BaseModel):
    id: str
    messages: list[Message]
    summary: Summary | None = None
    peer_representation: str | None = None
    peer_card: list[str] | None = None
