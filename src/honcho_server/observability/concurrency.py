"""How busy this process's API is: requests in flight now, and on average lately.

The request middleware (``observability.middleware``) counts each request in, and out when its
answer starts (a streamed answer then mostly waits on an LLM, not on this process); the
in-process worker reads the average to decide whether its bulk work may run now
(``worker.pacing``). The average is exponentially weighted over time (about the last
``tau`` seconds), integrated exactly between changes, so it is Little's law's mean
concurrency: 16 clients keeping the server saturated read about 16, one client sending a
request a second read nearly 0.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextvars import ContextVar

#: Set while a request is being counted: a request the app makes to itself inside it (the v2
#: API and MCP run v3 routes in-process, ``api.inprocess``) is not counted again.
counting: ContextVar[bool] = ContextVar("honcho_counting_request", default=False)


class Concurrency:
    __slots__ = ("_at", "_avg", "_clock", "now", "tau")

    def __init__(self, tau: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.now = 0  # requests in flight
        self.tau = tau
        self._clock = clock
        self._avg = 0.0
        self._at = clock()

    def entered(self) -> None:
        self._advance()
        self.now += 1

    def left(self) -> None:
        self._advance()
        self.now -= 1

    def average(self) -> float:
        """Mean requests in flight over about the last ``tau`` seconds."""
        self._advance()
        return self._avg

    def _advance(self) -> None:
        at = self._clock()
        elapsed = at - self._at
        if elapsed > 0:
            kept = math.exp(-elapsed / self.tau)
            self._avg = self._avg * kept + self.now * (1.0 - kept)
            self._at = at
