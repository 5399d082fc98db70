"""What the process has learnt about each (endpoint, model): which structured-output mode
works, which token-limit parameter it takes, whether it accepts ``temperature``,
``stream_options`` and ``tools``. Learnt from answers, kept for the life of the process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from .results import ConcreteMode

TokenParam = Literal["max_tokens", "max_completion_tokens"]


@dataclass
class EndpointProfile:
    #: The structured-output mode that worked (``auto`` only); None = not tried yet.
    structured_mode: ConcreteMode | None = None
    #: OpenAI's reasoning models take only ``max_completion_tokens``; many local servers
    #: know only ``max_tokens``.
    token_param: TokenParam = "max_tokens"
    send_temperature: bool = True
    stream_usage: bool = True
    #: Whether it takes ``tools``: None = not asked yet, False = it refused them.
    tools: bool | None = None


class EndpointMemory:
    def __init__(self) -> None:
        self._profiles: dict[tuple[str, str], EndpointProfile] = {}

    def profile(self, base_url: str, model: str) -> EndpointProfile:
        key = (base_url.rstrip("/"), model)
        if key not in self._profiles:
            self._profiles[key] = _first_guess(base_url)
        return self._profiles[key]

    def clear(self) -> None:
        self._profiles.clear()


def _first_guess(base_url: str) -> EndpointProfile:
    host = urlsplit(base_url).hostname or ""
    if host == "api.openai.com":
        return EndpointProfile(token_param="max_completion_tokens")
    if host == "api.anthropic.com":
        # Anthropic's OpenAI-compatible endpoint ignores response_format: the schema goes
        # in the prompt and the answer is read tolerantly.
        return EndpointProfile(structured_mode="text")
    return EndpointProfile()


#: The process-wide memory every client uses unless given its own.
ENDPOINTS = EndpointMemory()
