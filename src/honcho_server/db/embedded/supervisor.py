"""Keeping the embedded server up: restart its postmaster when it dies.

A :class:`Supervisor` thread polls the postmaster of a started :class:`EmbeddedPostgres`
(``postmaster.pid`` and /proc, every ``interval`` seconds). When the postmaster is gone
(OOM killer, a stray ``kill -9``) it restarts the server on the same data directory and
port (:meth:`EmbeddedPostgres.restart`), so the application's connection pool reconnects
to the same URL by itself. A failed restart is retried with capped exponential backoff.

Logging is one line per state change, never one per poll or per try:

- died and restarted: one WARNING (which pid died, the new pid, how long the restart took);
- a restart failed: one ERROR with the reason (again only if the reason changes);
- back after failed restarts: one WARNING.

Stop the supervisor before stopping the server on purpose (:meth:`Supervisor.stop`
waits for a restart in progress), so it never restarts a server being shut down.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Final

from .errors import EmbeddedPostgresError
from .logs import logger
from .ports import HOST
from .server import EmbeddedPostgres, Restarted

POLL_SECONDS: Final = 1.0
"""How often the postmaster is checked: a death is noticed within about this long."""

BACKOFF_FIRST_SECONDS: Final = 1.0
BACKOFF_MAX_SECONDS: Final = 30.0


class Supervisor:
    """Restarts the postmaster of ``server`` when it dies; a daemon thread.

    Use as a context manager, or call :meth:`start` after ``server.start()`` and
    :meth:`stop` before ``server.stop()``.
    """

    def __init__(
        self,
        server: EmbeddedPostgres,
        *,
        interval: float = POLL_SECONDS,
        backoff_first: float = BACKOFF_FIRST_SECONDS,
        backoff_max: float = BACKOFF_MAX_SECONDS,
    ) -> None:
        self._server = server
        self._interval = interval
        self._backoff_first = backoff_first
        self._backoff_max = backoff_max
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.restarts = 0
        """Deaths recovered from so far (by this process or another user of the cluster)."""

    def start(self) -> None:
        """Begin watching (the server must be started)."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name="embedded-postgres-supervisor", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; waits for a restart in progress to finish. Idempotent."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    def __enter__(self) -> Supervisor:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        pid = self._server.postmaster_pid()
        while not self._stopping.wait(self._interval):
            try:
                current = self._server.postmaster_pid()
            except Exception as exc:  # e.g. an unreadable postmaster.pid: keep watching
                logger.debug("cannot check the embedded PostgreSQL postmaster: %s", exc)
                continue
            if current is not None:
                pid = current
                continue
            if not self._server.started:
                return  # stopped on purpose behind our back
            restarted = self._recover(pid)
            if restarted is None:
                return  # stopping
            pid = restarted.pid

    def _recover(self, dead_pid: int | None) -> Restarted | None:
        """Restart until it works (capped backoff) or we are stopped (then None)."""
        noticed = time.monotonic()
        what = "embedded PostgreSQL" + ("" if dead_pid is None else f" (pid {dead_pid})")
        delay = self._backoff_first
        failures = 0
        reported = ""
        while not self._stopping.is_set():
            try:
                restarted = self._server.restart()
            except Exception as exc:
                failures += 1
                reason = _first_line(exc)
                if reason != reported:  # one line per state change, not per try
                    reported = reason
                    logger.error(
                        "%s died and could not be restarted (retrying, at most %.0f s apart): %s",
                        what,
                        self._backoff_max,
                        _describe(exc),
                    )
                else:
                    logger.debug("restart attempt %d failed: %s", failures + 1, reason)
                if self._stopping.wait(delay):
                    return None
                delay = min(delay * 2, self._backoff_max)
                continue
            if restarted is None:
                return None  # the server was stopped on purpose
            self.restarts += 1
            took = time.monotonic() - noticed
            if failures:
                logger.warning(
                    "%s is back on %s:%d (pid %d) after %d failed restart(s) in %.1f s%s",
                    what,
                    HOST,
                    restarted.port,
                    restarted.pid,
                    failures,
                    took,
                    _orphans(restarted),
                )
            else:
                logger.warning(
                    "%s died; %s on %s:%d (pid %d) in %.1f s%s",
                    what,
                    "restarted it" if restarted.by_us else "another process restarted it",
                    HOST,
                    restarted.port,
                    restarted.pid,
                    took,
                    _orphans(restarted),
                )
            return restarted
        return None


def _orphans(restarted: Restarted) -> str:
    count = restarted.orphans_killed
    return f" ({count} orphaned process(es) of the dead server killed)" if count else ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _describe(exc: BaseException) -> str:
    """The first line of an error; the log tail of an :class:`EmbeddedPostgresError` too."""
    if isinstance(exc, EmbeddedPostgresError):
        return str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {_first_line(exc)}"
