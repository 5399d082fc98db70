"""Configuration objects for workspaces, sessions, messages and session members."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..tokens import count_tokens
from .common import configuration_limits

CUSTOM_INSTRUCTIONS_MAX_TOKENS = 2000


class _Section(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _limits(cls, value: Any) -> Any:  # size, nesting, text (once, on the raw object)
        return configuration_limits(value)


class ReasoningConfiguration(_Section):
    enabled: bool | None = None
    custom_instructions: str | None = None

    @field_validator("custom_instructions")
    @classmethod
    def _bounded(cls, value: str | None) -> str | None:
        if value and value.strip() and count_tokens(value) > CUSTOM_INSTRUCTIONS_MAX_TOKENS:
            raise ValueError(f"custom_instructions exceed {CUSTOM_INSTRUCTIONS_MAX_TOKENS} tokens")
        return value


class PeerCardConfiguration(_Section):
    use: bool | None = None
    create: bool | None = None


class SummaryConfiguration(_Section):
    enabled: bool | None = None
    messages_per_short_summary: int | None = Field(default=None, ge=10)
    messages_per_long_summary: int | None = Field(default=None, ge=20)

    @model_validator(mode="after")
    def _short_below_long(self) -> SummaryConfiguration:
        short, long = self.messages_per_short_summary, self.messages_per_long_summary
        if short is not None and long is not None and short >= long:
            raise ValueError(
                "messages_per_short_summary must be less than messages_per_long_summary"
            )
        return self


class DreamConfiguration(_Section):
    enabled: bool | None = None


class WorkspaceConfiguration(BaseModel):
    """Workspace/session configuration; unknown top-level keys are kept verbatim."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _limits(cls, value: Any) -> Any:  # size, nesting, text (once, on the raw object)
        return configuration_limits(value)

    reasoning: ReasoningConfiguration | None = None
    peer_card: PeerCardConfiguration | None = None
    summary: SummaryConfiguration | None = None
    dream: DreamConfiguration | None = None

    def stored(self) -> dict[str, Any]:
        """The form kept in the database: null fields dropped at every level."""
        return self.model_dump(exclude_none=True)


class SessionConfiguration(WorkspaceConfiguration):
    pass


class MessageConfiguration(_Section):
    reasoning: ReasoningConfiguration | None = None


class SessionPeerConfig(BaseModel):
    observe_me: bool | None = None
    observe_others: bool | None = None
