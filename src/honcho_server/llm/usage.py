"""Tokens an LLM call spent, summable across attempts, calls and jobs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Usage:
    """Prompt and completion tokens as the endpoint reported them, and the requests answered.

    ``Usage() + other`` and ``sum(usages, Usage())`` add up; so does ``sum(usages)``.
    Endpoints that report no usage (some local servers, when streaming) count as 0 tokens.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.requests + other.requests,
        )

    def __radd__(self, other: int) -> Usage:
        if other == 0:  # sum() starts from 0
            return self
        return NotImplemented

    def as_dict(self) -> dict[str, int]:
        """For a job's JSON record."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "requests": self.requests,
        }
