"""One log line per database outage window, not one traceback per request.

During an outage every request fails the same way; an operator needs to know that it is
happening and how often, not a thousand copies of the same traceback.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

LOG_INTERVAL_SECONDS = 10.0


class OutageLog:
    """Rate-limited warnings: at most one line per ``interval`` seconds, each counting the
    failures that were not logged since the previous line."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = LOG_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last: float | None = None  # when the last line was written
        self._suppressed = 0
        self._failures = 0  # since the outage began

    def failed(self, where: str, reason: str) -> None:
        """Record one failure; writes a line unless one was written less than ``interval`` ago."""
        with self._lock:
            now = self._clock()
            self._failures += 1
            if self._last is not None and now - self._last < self._interval:
                self._suppressed += 1
                return
            suppressed, self._suppressed, self._last = self._suppressed, 0, now
        more = f" (+{suppressed} more since the last report)" if suppressed else ""
        self._log.warning("database unavailable, answering 503: %s: %s%s", where, reason, more)

    def recovered(self) -> None:
        """The database answered again: one line if failures were recorded since the last one."""
        with self._lock:
            failures, self._failures = self._failures, 0
            self._suppressed, self._last = 0, None
        if failures:
            self._log.warning("database reachable again (%d request(s) answered 503)", failures)
