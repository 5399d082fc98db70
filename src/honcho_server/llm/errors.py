"""What can go wrong with an LLM call, sorted by what the caller should do about it.

- :class:`LLMNotConfigured`: no model is set for the feature. Leave the job waiting.
- :class:`LLMUnavailable`: the endpoint is down, slow, rate-limited, or refuses the key or
  model (all fixable without touching the job). Retry the job later.
- :class:`LLMRequestRejected`: the endpoint refused this request itself (e.g. the prompt is
  longer than the model's context). The same input will fail again.
- :class:`LLMOutputInvalid`: the model answered, but not with what was asked for, even after
  being shown its mistake once.

Every error carries the :class:`~honcho_server.llm.usage.Usage` spent before it happened.
"""

from __future__ import annotations

from .usage import Usage


class LLMError(Exception):
    """Base of every LLM error."""

    def __init__(
        self, message: str, *, usage: Usage | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage or Usage()
        self.status_code = status_code

    def with_usage(self, spent: Usage) -> LLMError:
        """This error, with ``spent`` added to its usage (tokens used by earlier attempts)."""
        self.usage = spent + self.usage
        return self


class LLMNotConfigured(LLMError):
    """No LLM is configured for the feature (says which settings to set)."""


class LLMUnavailable(LLMError):
    """Transient, or fixable outside the job: network, timeout, 429, 5xx, bad key, no such
    model. Raised after the client's own retries; the job should wait and try again."""


class LLMRequestRejected(LLMError):
    """The endpoint refused this request (a 4xx other than auth, not-found and rate limits)."""


class LLMOutputInvalid(LLMError):
    """The model's answer could not be turned into the requested structure, even after one
    corrective retry. ``raw`` is its last answer."""

    def __init__(
        self, message: str, *, raw: str, attempts: int, usage: Usage | None = None
    ) -> None:
        super().__init__(message, usage=usage)
        self.raw = raw
        self.attempts = attempts
